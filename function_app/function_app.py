"""The sample Function App: the queued-jobs blueprint and the sample jobs, with their
telemetry sent to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set."""

import azure.functions as func
from sample_jobs import app
from telemetry_setup import configure_telemetry

from queued_jobs.functions import job_blueprint

configure_telemetry()  # before any function runs: the providers behind queued-jobs' spans
function_app = func.FunctionApp()
function_app.register_functions(job_blueprint(app))
