from dumpmask.cli import main

main()
