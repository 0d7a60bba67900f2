"""FakeX: the X API v2 endpoints XAdapter uses (tweets, users/me, user tweets, v2 media upload)."""

from __future__ import annotations

import html
import re
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from bot.platforms import get_platform
from bot.testing import ServerPost
from tests.fakes.base import FakeServer, Request, Response

_URL = re.compile(r"https?://\S+")


class FakeX(FakeServer):
    """api.twitter.com / api.x.com. Accepts OAuth 1.0a headers carrying the configured keys."""

    failures = frozenset({"server_error", "rate_limit", "unauthorized", "duplicate", "slow",
                          "drop_after_store"})

    def __init__(self, consumer_key: str = "ck-FAKE-consumer-key-0001",
                 consumer_secret: str = "cs-FAKE-consumer-secret-0002",
                 access_token: str = "1111-FAKE-access-token-0003",
                 access_token_secret: str = "ats-FAKE-access-secret-0004",
                 username: str = "crieur_bot") -> None:
        super().__init__()
        self.credentials = {"consumer_key": consumer_key, "consumer_secret": consumer_secret,
                            "access_token": access_token, "access_token_secret": access_token_secret}
        self.secrets = list(self.credentials.values())
        self.username = username
        self.user_id = "1600000000000000001"
        self._next_id = 1850000000000000000
        self.media: dict[str, dict[str, Any]] = {}
        self.tweets: list[dict[str, Any]] = []
        self.timeline_lag = 0  # how many of the newest tweets the user timeline does not show yet
        # OAuth 1.0a PIN flow (crieur auth x): request token → {secret, pin, used}.
        self.request_tokens: dict[str, dict[str, Any]] = {}

    def routes(self):  # type: ignore[no-untyped-def]
        return [
            ("POST", r"/2/tweets", self.create_tweet),
            ("GET", r"/2/users/me", self.users_me),
            ("GET", r"/2/users/(\d+)/tweets", self.user_tweets),
            ("POST", r"/2/media/upload", self.media_upload),
            ("POST", r"/2/media/metadata", self.media_metadata),
        ]

    def dispatch(self, request: Request):  # type: ignore[no-untyped-def]
        if request.path.startswith("/oauth/"):
            return self.dispatch_oauth(request)
        if not self._authorised(request):
            return self.unauthorized()
        return super().dispatch(request)

    def not_found(self, request: Request) -> Response:
        return Response(404, {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]})

    # -- X's error bodies -----------------------------------------------------------------------

    def _limit_headers(self, remaining: int = 99, reset: int | None = None) -> dict[str, str]:
        reset = reset if reset is not None else int(time.time()) + 900
        return {"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(remaining),
                "x-rate-limit-reset": str(reset)}

    def unauthorized(self) -> Response:
        return Response(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                              "detail": "Unauthorized"}, content_type="application/problem+json")

    def errors(self) -> dict[str, Any]:
        return {
            "server_error": lambda: Response(503, {"title": "Service Unavailable", "type": "about:blank",
                                                   "status": 503, "detail": "Service Unavailable"},
                                             content_type="application/problem+json"),
            "rate_limit": lambda: Response(
                429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                      "status": 429},
                self._limit_headers(0, int(self.rate_limit_reset.timestamp())),  # type: ignore[union-attr]
                content_type="application/problem+json"),
            "unauthorized": self.unauthorized,
            "duplicate": self.duplicate,
        }

    def duplicate(self) -> Response:
        return Response(403, {"detail": "You are not allowed to create a Tweet with duplicate content.",
                              "type": "about:blank", "title": "Forbidden", "status": 403},
                        content_type="application/problem+json")

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return (auth.startswith("OAuth ")
                and f'oauth_consumer_key="{self.credentials["consumer_key"]}"' in auth
                and f'oauth_token="{self.credentials["access_token"]}"' in auth)

    # -- endpoints ------------------------------------------------------------------------------

    def create_tweet(self, request: Request, _: list[str]) -> Any:
        body = request.json()
        text = body.get("text", "")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if get_platform("x").length(text) > 280:  # X's weighted count (URLs 23, CJK 2)
            return Response(403, {"detail": "Your Tweet text is too long.", "type": "about:blank",
                                  "title": "Forbidden", "status": 403})
        with self.lock:
            # X refuses the same text twice in a row from one account.
            if any(t["text"] == text for t in self.tweets[-20:]):
                return self.duplicate()
            if reply_to is not None and not any(t["id"] == reply_to for t in self.tweets):
                return Response(400, {"errors": [{"parameters": {"reply.in_reply_to_tweet_id": [reply_to]},
                                                  "message": "The `in_reply_to_tweet_id` query parameter "
                                                             "value is not valid"}],
                                      "title": "Invalid Request", "type": "https://api.twitter.com/2/problems/invalid-request",
                                      "detail": "One or more parameters to your request was invalid."})

        def store() -> Response:
            with self.lock:
                self._next_id += 1
                tweet_id = str(self._next_id)
                tweet = {"id": tweet_id, "text": text, "reply_to": reply_to, "media_ids": list(media_ids)}
                self.tweets.append(tweet)
                alts = tuple(self.media[m].get("alt", "") for m in media_ids if m in self.media)
                self.stored.append(ServerPost(tweet_id, text, reply_to, alts))
            return Response(201, {"data": {"id": tweet_id, "text": html.escape(text, quote=False),
                                           "edit_history_tweet_ids": [tweet_id]}}, self._limit_headers())

        return self.with_failures(request, store, self.errors())

    def users_me(self, request: Request, _: list[str]) -> Response:
        return Response(200, {"data": {"id": self.user_id, "name": "Crieur Bot", "username": self.username}},
                        self._limit_headers())

    def user_tweets(self, request: Request, groups: list[str]) -> Response:
        limit = int(request.arg("max_results", "10"))
        if not 5 <= limit <= 100:  # X's own bounds
            return Response(400, {"title": "Invalid Request", "detail": f"max_results {limit} out of [5, 100]"})
        since = request.arg("since_id", "")
        start = int(request.arg("pagination_token", "0") or 0)
        data = []
        with self.lock:
            # X's timelines lag behind its writes: the newest `timeline_lag` tweets are not shown yet.
            visible = self.tweets[:len(self.tweets) - self.timeline_lag] if self.timeline_lag else self.tweets
            newest_first = [t for t in reversed(visible) if not since or int(t["id"]) > int(since)]
            tweets = newest_first[start:start + limit]
            more = start + limit < len(newest_first)
        for n, tweet in enumerate(tweets):
            item: dict[str, Any] = {"id": tweet["id"], "edit_history_tweet_ids": [tweet["id"]]}
            text, urls = _wrap_links(tweet["text"], n)
            for m, media_id in enumerate(tweet["media_ids"]):
                short = f"https://t.co/m{n}x{m}"
                text += " " + short
                urls.append({"start": 0, "end": 0, "url": short, "expanded_url":
                             f"https://x.com/{self.username}/status/{tweet['id']}/photo/1",
                             "display_url": "pic.x.com/abc", "media_key": f"3_{media_id}"})
            item["text"] = html.escape(text, quote=False)
            if urls:
                item["entities"] = {"urls": urls}
            if tweet["reply_to"]:
                item["referenced_tweets"] = [{"type": "replied_to", "id": tweet["reply_to"]}]
            data.append(item)
        body: dict[str, Any] = {"meta": {"result_count": len(data)}}
        if more:
            body["meta"]["next_token"] = str(start + limit)
        if data:
            body["data"] = data
            body["meta"].update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        return Response(200, body, self._limit_headers())

    def media_upload(self, request: Request, _: list[str]) -> Response:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + request.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + request.body)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "media" not in fields:
            return Response(400, {"errors": [{"message": "media is required"}], "title": "Invalid Request",
                                  "detail": "One or more parameters to your request was invalid."})
        content = fields["media"].get_payload(decode=True)
        with self.lock:
            self._next_id += 1
            media_id = str(self._next_id)
            self.media[media_id] = {"size": len(content)}
        return Response(200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(content),
                                       "expires_after_secs": 86400,
                                       "image": {"image_type": "image/png", "w": 1, "h": 1}}})

    def media_metadata(self, request: Request, _: list[str]) -> Response:
        body = request.json()
        media_id = body.get("id")
        if media_id not in self.media:
            return Response(400, {"errors": [{"message": f"Media id {media_id} not found"}],
                                  "title": "Invalid Request", "detail": "Invalid media id"})
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text", "")
        if len(alt) > 1000:
            return Response(400, {"detail": "alt text longer than 1000 characters", "title": "Invalid Request"})
        with self.lock:
            self.media[media_id]["alt"] = alt
        return Response(200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}})


    # -- OAuth 1.0a PIN flow (api.twitter.com/oauth/…) ---------------------------------------------

    def dispatch_oauth(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.method, request.path))
        if request.method == "POST" and request.path == "/oauth/request_token":
            return self.oauth_request_token(request)
        if request.method == "GET" and request.path in ("/oauth/authorize", "/oauth/authenticate"):
            return self.oauth_authorize(request)
        if request.method == "POST" and request.path == "/oauth/access_token":
            return self.oauth_access_token(request)
        return self.not_found(request)

    def _oauth_refused(self, message: str = "Could not authenticate you.", code: int = 32) -> Response:
        return Response(401, {"errors": [{"code": code, "message": message}]})

    def _signed_params(self, request: Request, token_secret: str | None) -> dict[str, str] | None:
        """The OAuth parameters of a correctly signed request (HMAC-SHA1), else None.

        The client signed X's URL, not the loopback one the transport sent it to: accept either host.
        """
        from oauthlib.oauth1.rfc5849 import signature
        from oauthlib.common import Request as OAuthRequest

        auth = request.headers.get("Authorization", "")
        if not auth.startswith("OAuth "):
            return None
        params = dict(signature.collect_parameters(headers={"Authorization": auth}, exclude_oauth_signature=False))
        if params.get("oauth_consumer_key") != self.credentials["consumer_key"]:
            return None
        body = request.body.decode() if request.body else ""
        query = "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs)
        for host in ("https://api.twitter.com", "https://api.x.com", self.url):
            uri = host + request.path + (f"?{query}" if query else "")
            oauth_request = OAuthRequest(uri, request.method, body or None, {"Authorization": auth})
            oauth_request.params = signature.collect_parameters(
                uri_query=query, body=body or None, headers={"Authorization": auth})
            oauth_request.signature = params.get("oauth_signature", "")
            if signature.verify_hmac_sha1(oauth_request, self.credentials["consumer_secret"], token_secret):
                return params
        return None

    def oauth_request_token(self, request: Request) -> Response:
        params = self._signed_params(request, None)
        if params is None:
            return self._oauth_refused()
        if params.get("oauth_callback") != "oob":
            return Response(401, {"errors": [{"code": 415, "message": "Callback URL not approved for this "
                                                                     "client application."}]})
        with self.lock:
            n = len(self.request_tokens) + 1
            token, secret = f"rt-FAKE-request-token-{n:04d}", f"rts-FAKE-request-secret-{n:04d}"
            self.request_tokens[token] = {"secret": secret, "pin": f"{4711000 + n}", "used": False}
            self.secrets.append(secret)
        return Response(200, f"oauth_token={token}&oauth_token_secret={secret}&oauth_callback_confirmed=true",
                        content_type="text/html; charset=utf-8")

    def oauth_authorize(self, request: Request) -> Response:
        """The page a signed-in user sees after clicking "Authorize app": the PIN for an oob callback."""
        pending = self.request_tokens.get(request.arg("oauth_token") or "")
        if pending is None or pending["used"]:
            return Response(403, "<html><body>This page is no longer valid.</body></html>",
                            content_type="text/html")
        return Response(200, f'<html><body><div id="oauth_pin"><p>Next, return to the app and enter this '
                             f'PIN to complete the authorization process:</p><kbd aria-labelledby="code-desc">'
                             f'<code>{pending["pin"]}</code></kbd></div></body></html>',
                        content_type="text/html; charset=utf-8")

    def oauth_access_token(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        match = re.search(r'oauth_token="([^"]+)"', auth)
        pending = self.request_tokens.get(match.group(1)) if match else None
        if pending is None or pending["used"]:
            return self._oauth_refused("Invalid or expired token.", 89)
        params = self._signed_params(request, pending["secret"])
        if params is None:
            return self._oauth_refused()
        if params.get("oauth_verifier") != pending["pin"]:
            return Response(401, "Error processing your OAuth request: Invalid oauth_verifier parameter",
                            content_type="text/plain; charset=utf-8")
        with self.lock:
            pending["used"] = True
        c = self.credentials
        return Response(200, f"oauth_token={c['access_token']}&oauth_token_secret={c['access_token_secret']}"
                             f"&user_id={self.user_id}&screen_name={self.username}",
                        content_type="text/html; charset=utf-8")


def _wrap_links(text: str, n: int) -> tuple[str, list[dict[str, Any]]]:
    """X shows every link as a t.co URL and returns the original in entities.urls."""
    urls: list[dict[str, Any]] = []

    def wrap(match: re.Match[str]) -> str:
        short = f"https://t.co/{n}x{len(urls)}"
        urls.append({"start": match.start(), "end": match.end(), "url": short,
                     "expanded_url": match.group(0), "display_url": match.group(0)[8:30]})
        return short

    return _URL.sub(wrap, text), urls
