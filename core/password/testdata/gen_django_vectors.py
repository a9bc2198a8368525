"""Generate django_vectors.json: what Django's default password validators
answer for a set of passwords and user attributes.

The validation logic below is Django 3.2's django/contrib/auth/
password_validation.py (MinimumLength, UserAttributeSimilarity, Common,
Numeric; unchanged through Django 5), run on Python's own difflib, str and re,
with the common-password list embedded in the Go package. The verbose names
are the users app's ("email", not Django's stock "email address").

Run from core/password:  python3 testdata/gen_django_vectors.py
"""
import gzip
import json
import random
import re
from difflib import SequenceMatcher

PASSWORDS = {p.strip() for p in gzip.open("common-passwords.txt.gz").read().decode().splitlines()}
ATTRS = [("username", "username"), ("first_name", "first name"), ("last_name", "last name"), ("email", "email")]


def exceeds_maximum_length_ratio(password, max_similarity, value):
    pwd_len = len(password)
    length_bound_similarity = max_similarity / 2 * pwd_len
    value_len = len(value)
    return pwd_len >= 10 * value_len and value_len < length_bound_similarity


def similarity(password, user, max_similarity=0.7):
    password = password.lower()
    for attribute_name, verbose_name in ATTRS:
        value = user.get(attribute_name)
        if not value or not isinstance(value, str):
            continue
        value_lower = value.lower()
        value_parts = re.split(r"\W+", value_lower) + [value_lower]
        for value_part in value_parts:
            if exceeds_maximum_length_ratio(password, max_similarity, value_part):
                continue
            if SequenceMatcher(a=password, b=value_part).quick_ratio() >= max_similarity:
                return ["The password is too similar to the %s." % verbose_name]
    return []


def validate(password, user):
    errors = similarity(password, user)
    if len(password) < 8:
        errors.append("This password is too short. It must contain at least 8 characters.")
    if password.lower().strip() in PASSWORDS:
        errors.append("This password is too common.")
    if password.isdigit():
        errors.append("This password is entirely numeric.")
    return errors


users = [
    {"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"},
    {"email": "bob_smith99@mail.example.org"},
    {"email": "Élodie.Lefèvre@exemple.fr", "first_name": "Élodie", "last_name": "Lefèvre"},
    {"email": "x@y.co", "first_name": "", "last_name": ""},
    {"email": ".weird.@host.", "username": "__init__"},
    {},
]
fixed = ["", "a", "short", "1234567", "12345678", "123456789012", "password", "Password", " password ",
         "PASSWORD1", "iloveyou", "qwertyuiop", "janedoe", "janedoe1", "doejane!", "jane.doe@example.com",
         "example.com", "elpmaxe", "Xk9#mQ2!vL", "correct horse battery staple", "bobsmith99", "smith_bob",
         "élodielefèvre", "lefevre-elodie", "٣٤٥٦٧٨٩٠١٢", "１２３４５６７８", "x@y.co", "mail.example",
         "weirdhost", "__init__1", "tiny", "jd", "Jane2026!", "doedoedoe", "abcdefgh"]
rng = random.Random(20261126)
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#._- éü"
cases = []
for u in users:
    for p in fixed:
        cases.append({"password": p, "attrs": u, "messages": validate(p, u)})
common = sorted(PASSWORDS)
for i in range(600):
    u = rng.choice(users)
    kind = rng.randrange(5)
    if kind == 0:
        p = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 16)))
    elif kind == 1:
        p = rng.choice(common)
        if rng.random() < 0.5:
            p = p.upper() if rng.random() < 0.5 else " " + p
    elif kind == 2:
        src = " ".join(v for v in u.values() if v) or "nobody"
        chars = list(src)
        rng.shuffle(chars)
        p = "".join(chars[: rng.randrange(1, len(chars) + 1)]) + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
    elif kind == 3:
        vals = [v for v in u.values() if v] or ["nobody"]
        parts = [x for v in vals for x in re.split(r"\W+", v) if x] or ["nobody"]
        p = rng.choice(parts)
        for _ in range(rng.randrange(0, 5)):
            j = rng.randrange(0, len(p) + 1)
            p = p[:j] + rng.choice(alphabet) + p[j:]
    else:
        p = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 14)))
    cases.append({"password": p, "attrs": u, "messages": validate(p, u)})
with open("testdata/django_vectors.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]\n")
print(len(cases), "cases;", sum(1 for c in cases if c["messages"]), "with messages")
