"""Who is using this browser session: the workspace it opens, and whether it is the teacher's.

- **Personal mode** (the default): the machine's user. Every tab opens the same workspace;
  nothing to log in to, no link.
- **Classroom mode** (``CNNLAB_MODE=classroom``), with Streamlit's login configured in the
  server's secrets (an ``[auth]`` table, see the README): the logged-in account. The workspace is
  named after a hash of the account, so nobody reads an address off the folder names.
- **Classroom mode without login**: a private workspace link. A first visit gets a new random
  key (``secrets.token_urlsafe``, 256 bits) in the address, ``?ws=KEY``; the user bookmarks it to
  come back. Only the key's hash names the folder, so the key is nowhere on the server's disk.
  A key that is too short to be unguessable is never accepted as one.

The teacher is the account listed in ``CNNLAB_TEACHERS`` (login), or whoever opens the link
whose key is ``CNNLAB_TEACHER_KEY`` (no login). The teacher publishes models to the gallery and
imports the official dataset files.

``CNNLAB_WORKSPACE_FROM_URL=1`` is for tests and benchmarks on one machine in personal mode: the
address's ``?workspace=NAME`` names the workspace, so several browsers act as several users.
It is refused in classroom mode, where anyone could type any name.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

import streamlit as st

from core.settings import SettingsError, classroom
from core.workspace import personal_user, validate_user

LINK_PARAM = "ws"
TEST_PARAM = "workspace"
TEST_ENV = "CNNLAB_WORKSPACE_FROM_URL"
TEACHER_KEY_ENV = "CNNLAB_TEACHER_KEY"
TEACHERS_ENV = "CNNLAB_TEACHERS"
_KEY = re.compile(r"^[A-Za-z0-9_-]{32,128}$")  # 32 characters of base64: at least 192 bits when made here
_SS_KEY = "identity"


@dataclass(frozen=True)
class Identity:
    """The user of a session."""

    workspace: str  # the workspace folder's name (core.workspace)
    how: str  # "personal", "login", "link" or "test"
    teacher: bool = False  # may publish to the gallery and import official dataset files
    key: str | None = None  # the private link's key ("link" only), to show the user their link
    label: str = ""  # how the sidebar names the user ("you", an e-mail address)
    new: bool = False  # a workspace link made on this visit: tell the user to bookmark it


def valid_key(key) -> bool:
    """True if ``key`` can be a workspace link's key: 32 to 128 URL-safe characters."""
    return isinstance(key, str) and bool(_KEY.match(key))


def new_key() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 random bits


def link_workspace(key: str) -> str:
    """The workspace folder of a link's key: a hash of it, never the key itself."""
    return "l" + hashlib.sha256(key.encode()).hexdigest()[:40]


def login_workspace(account: str) -> str:
    """The workspace folder of a logged-in account (its e-mail address or subject)."""
    return "u" + hashlib.sha256(account.strip().lower().encode()).hexdigest()[:40]


def teacher_key() -> str | None:
    """``CNNLAB_TEACHER_KEY``, checked: a key shorter than a workspace link's would be guessable."""
    key = os.environ.get(TEACHER_KEY_ENV, "").strip()
    if not key:
        return None
    if not valid_key(key):
        raise SettingsError(f"{TEACHER_KEY_ENV} must be 32 to 128 letters, digits, '-' or '_' (make one with "
                            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'). Received: "
                            f"{len(key)} characters")
    return key


def teacher_accounts() -> set[str]:
    """The accounts of ``CNNLAB_TEACHERS`` (e-mail addresses, comma-separated), lower case."""
    return {a.strip().lower() for a in os.environ.get(TEACHERS_ENV, "").split(",") if a.strip()}


def login_configured() -> bool:
    """True when the server's secrets configure Streamlit's login (an ``[auth]`` table)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001  (no secrets file, or one that cannot be parsed: no login)
        return False


def identify() -> Identity:
    """This session's user, worked out once per session (and the link kept in the address)."""
    ss = st.session_state
    who = ss.get(_SS_KEY)
    if who is None or who.how != _how():
        who = ss[_SS_KEY] = _identify()
    if who.how == "link" and st.query_params.get(LINK_PARAM) != who.key:
        st.query_params[LINK_PARAM] = who.key  # every page keeps the key in the address: a bookmark finds it
    if who.how == "test" and st.query_params.get(TEST_PARAM) != who.workspace:
        st.query_params[TEST_PARAM] = who.workspace
    return who


def _how() -> str:
    if not classroom():
        return "test" if os.environ.get(TEST_ENV) == "1" else "personal"
    return "login" if login_configured() else "link"


def _identify() -> Identity:
    how = _how()
    if how == "personal":
        return Identity(personal_user(), "personal", teacher=True, label="you")
    if how == "test":
        try:
            return Identity(validate_user(st.query_params.get(TEST_PARAM, "")), "test", teacher=True,
                            label=st.query_params.get(TEST_PARAM, ""))
        except ValueError:
            return Identity(personal_user(), "personal", teacher=True, label="you")
    if how == "login":
        user = st.user
        account = str(user.get("email") or user.get("sub") or "")
        if not user.get("is_logged_in") or not account:
            raise NotLoggedIn()
        return Identity(login_workspace(account), "login", teacher=account.lower() in teacher_accounts(),
                        label=account)
    key = st.query_params.get(LINK_PARAM, "")
    new = not valid_key(key)
    if new:
        key = new_key()
    teacher = teacher_key()
    is_teacher = teacher is not None and hmac.compare_digest(key, teacher)
    return Identity(link_workspace(key), "link", teacher=is_teacher, key=key,
                    label="the teacher" if is_teacher else "you (private link)", new=new)


class NotLoggedIn(Exception):
    """Classroom mode with login: this session has not logged in yet (``gate`` shows the login screen)."""


def gate() -> Identity:
    """The session's user; in classroom mode with login, a login screen (and the run stops) until logged in."""
    try:
        return identify()
    except NotLoggedIn:
        st.title("CNN Lab")
        st.write("This server is shared by a class: log in to open your own workspace. Nobody else can see "
                 "your photos, your classes or your models.")
        st.button("Log in", type="primary", key="identity_login", on_click=st.login)
        st.stop()
        raise  # st.stop raises; this line is never reached


def share_link(who: Identity) -> str | None:
    """The address that opens ``who``'s workspace again (link mode), from the address of this page."""
    if who.how != "link":
        return None
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{LINK_PARAM}={who.key}"
