"""Signing in to the console with the Flask test client (a CSRF token read from the sign-in page)."""
import re

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def sign_in(client, email, password=PASSWORD, next_path=""):
    token = TOKEN.search(client.get("/console/sign-in").text).group(1)
    return client.post(f"/console/sign-in{next_path}", data={"csrf_token": token, "email": email,
                                                              "password": password})
