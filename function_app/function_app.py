"""The sample Function App: the queued-jobs blueprint and the sample jobs."""

import azure.functions as func
from sample_jobs import app

from queued_jobs.functions import job_blueprint

function_app = func.FunctionApp()
function_app.register_functions(job_blueprint(app))
