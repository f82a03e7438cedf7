import atexit
atexit.register(lambda: print("atexit ran"))
print("working")
raise KeyboardInterrupt
