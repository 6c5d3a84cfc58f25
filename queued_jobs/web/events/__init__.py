"""Live job events: the hub that reads the repository's change feed once per partition and
fans it out, the stream cursor behind ``Last-Event-ID``, and the event stream itself."""
