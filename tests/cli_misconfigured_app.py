"""An app whose storage connection cannot work: importing it fails with a clear error."""

from queued_jobs import AzureStorage, JobApp

app = JobApp(AzureStorage("Nothing=here"))
