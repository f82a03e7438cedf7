import os
print(os.environ.get("CT_PARITY_VAR"), "PYTHONPATH" in os.environ)
