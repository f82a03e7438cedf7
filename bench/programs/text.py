"""String processing: a character-by-character text loop (the shape that upstream handles worst).

Builds a deterministic text, then walks it one character at a time: word counting, a Caesar
cipher and run-length encoding, each growing strings in locals.
"""
import sys

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hex".split()


def make_text(chars):
    parts, length, i = [], 0, 0
    while length < chars:
        word = WORDS[(i * 7) % len(WORDS)]
        parts.append(word)
        length += len(word) + 1
        i += 1
    return " ".join(parts)[:chars]


def caesar(text, shift):
    out = ""
    for ch in text:
        if "a" <= ch <= "z":
            ch = chr((ord(ch) - 97 + shift) % 26 + 97)
        out += ch
    return out


def word_counts(text):
    counts, word = {}, ""
    for ch in text + " ":
        if ch == " ":
            if word:
                counts[word] = counts.get(word, 0) + 1
            word = ""
        else:
            word += ch
    return counts


def run_length(text):
    encoded, prev, run = [], "", 0
    for ch in text:
        if ch == prev:
            run += 1
        else:
            if prev:
                encoded.append(f"{run}{prev}")
            prev, run = ch, 1
    encoded.append(f"{run}{prev}")
    return "".join(encoded)


def main(chars):
    text = make_text(chars)
    secret = caesar(text, 3)
    assert caesar(secret, 23) == text
    counts = word_counts(text)
    rle = run_length(text)
    top = max(counts, key=counts.get)
    print(f"text({chars}) words={sum(counts.values())} top={top} rle={len(rle)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60000)
