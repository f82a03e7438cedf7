import sys
print(sys.argv)
print(__name__, __file__.endswith("argv_echo.py"), __spec__)
