from replies.cli import main

main()
