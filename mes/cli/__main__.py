from mes.cli import main

main()
