import pickle


class Record:
    def __init__(self, name):
        self.name = name


data = pickle.dumps(Record("r1"))
back = pickle.loads(data)
print(type(back).__module__, back.name)
