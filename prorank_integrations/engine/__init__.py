"""The centre of the project: prompt, scoring, model resolution and the offline catalogue. Imports no framework."""
