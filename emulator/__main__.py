from emulator.http.cli import emulator

emulator(prog_name="python -m emulator")
