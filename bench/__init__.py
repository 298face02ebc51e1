"""The benchmark: `make bench` (or `.venv/bin/python bench/run.py`); see README.md here."""
