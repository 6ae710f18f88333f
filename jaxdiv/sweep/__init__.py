"""The study: grid design, the resumable sweep runner, and the end-to-end study (sweep, fit, validate, report)."""
