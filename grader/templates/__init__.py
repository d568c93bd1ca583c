"""Files the integrations write out: workflow and autograder templates (package data)."""
