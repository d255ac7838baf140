"""The application layer: the command line and the web application, composed from the domain packages."""
