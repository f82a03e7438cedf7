huge_text = "y" * (10 * 1024 * 1024)
huge_list = list(range(1_000_000))
print(len(huge_text), len(huge_list))
