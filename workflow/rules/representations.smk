# representations rules (filled in by the representations work; included by the Snakefile).
