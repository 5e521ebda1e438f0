from ganlint.cli import main

main()
