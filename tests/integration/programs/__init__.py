"""Small programs the command tests run as jobs (each a script for ``python``)."""
