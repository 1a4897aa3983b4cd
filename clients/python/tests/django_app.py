"""The Django project of tests/test_django.py: its URLs and views."""
from django.contrib.auth import authenticate, login, logout
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def login_view(request: HttpRequest) -> JsonResponse:
    user = authenticate(request, username=request.POST["username"], password=request.POST["password"])
    if user is None:
        return JsonResponse({"error": "bad credentials"}, status=401)
    login(request, user)
    return JsonResponse({"user": user.username})


def me(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Unauthorized"}, status=401)
    return JsonResponse({"user": request.user.username})


def logout_view(request: HttpRequest) -> JsonResponse:
    logout(request)
    return JsonResponse({"ok": True})


def set_view(request: HttpRequest) -> JsonResponse:
    for k, v in request.POST.items():
        request.session[k] = v
    return JsonResponse({"ok": True})


def get_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({k: v for k, v in request.session.items() if not k.startswith("_")})


def remember_view(request: HttpRequest) -> JsonResponse:
    """A "remember me" choice made after login: that session's lifetime."""
    request.session.set_expiry(int(request.POST["seconds"]))
    return JsonResponse({"ok": True})


def set_none_view(request: HttpRequest) -> JsonResponse:
    request.session[request.POST["key"]] = None
    return JsonResponse({"ok": True})


def notes_view(request: HttpRequest) -> JsonResponse:
    """The user's notes, by row-level security: the query has no WHERE."""
    from pgsession import SessionNotBound
    from pgsession.django import bound

    try:
        with bound(request), connection.cursor() as cur:
            cur.execute("SELECT body FROM notes ORDER BY body")
            return JsonResponse({"notes": [r[0] for r in cur.fetchall()]})
    except SessionNotBound:
        return JsonResponse({"error": "Unauthorized"}, status=401)


def devices_view(request: HttpRequest) -> JsonResponse:
    """The logged-in user's sessions: a "your devices" page."""
    from pgsession.django import list_sessions

    if not request.user.is_authenticated:
        return JsonResponse({"error": "Unauthorized"}, status=401)
    return JsonResponse({"devices": [
        {"handle": s.handle, "last_used_at": s.last_used_at.isoformat(), "created_at": s.created_at.isoformat(),
         "this": s.handle == request.POST.get("mine")}
        for s in list_sessions(request.user.pk)]})


def sign_out_view(request: HttpRequest, handle: str) -> JsonResponse:
    """Sign one of the user's devices out by its handle."""
    from pgsession.django import destroy_handle

    if not request.user.is_authenticated:
        return JsonResponse({"error": "Unauthorized"}, status=401)
    return JsonResponse({"ended": destroy_handle(request.user.pk, handle)})


urlpatterns = [
    path("devices", devices_view),
    path("devices/<str:handle>/sign-out", sign_out_view),
    path("notes", notes_view),
    path("login", login_view),
    path("me", me),
    path("logout", logout_view),
    path("set", set_view),
    path("get", get_view),
    path("remember", remember_view),
    path("set-none", set_none_view),
]
