from reconwb.cli import entry

entry()
