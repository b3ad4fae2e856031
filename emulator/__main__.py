from emulator.cli import emulator

emulator(prog_name="python -m emulator")
