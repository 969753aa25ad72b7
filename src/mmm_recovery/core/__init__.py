"""The project's foundations: paths, files, the study spec, the common result format, the response model and the shared transforms."""
