"""Clinical EMR services: users and roles, patient search, forms, files, exam reports, tasks, reports."""
