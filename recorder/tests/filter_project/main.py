from app import vendor


class Account:
    def __init__(self, owner, pin):
        self.owner = owner
        self.pin = pin


def login(user, password, company):
    api_key = "k-123"
    session_id = 42
    passage = "open"
    tokenizer_count = 3
    account = Account(user, 1234)
    return f"{user}@{company}"


def get_api_key():
    return "secret-value"


result = login("ada", "hunter2", "acme")
key = get_api_key()
vendor.noisy(5)
print(result)
