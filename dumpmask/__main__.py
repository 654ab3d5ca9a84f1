from dumpmask.commands import main

main()
