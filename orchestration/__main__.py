from orchestration.commands.cli import main

main(prog_name="bitrix-warehouse")
