# A real SMTP server for tests (aiosmtpd, RFC 5321): listens on 127.0.0.1 at a free port, prints
# "PORT <n>" once it accepts connections, then "MSG <file>" for each message it received, after writing it
# (raw bytes) to <dir>/<n>.eml and its envelope to <dir>/<n>.json.
# argv: dir mode(plain|starttls|tls) cert key user password
import asyncio, json, os, ssl, sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

directory, mode, cert, key, user, password = sys.argv[1:7]
count = 0


class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        base = os.path.join(directory, "%d" % count)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": server.transport.get_extra_info("ssl_object") is not None,
                       "authenticated": bool(session.authenticated)}, f)
        print("MSG " + base + ".eml", flush=True)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


async def main():
    ctx = None
    if mode in ("starttls", "tls"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
    kwargs = {}
    if user:
        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True)

    def factory():
        if mode == "starttls":
            return SMTP(Handler(), tls_context=ctx, require_starttls=True, hostname="mail.test", **kwargs)
        return SMTP(Handler(), hostname="mail.test", **kwargs)

    loop = asyncio.get_running_loop()
    srv = await loop.create_server(factory, "127.0.0.1", 0, ssl=ctx if mode == "tls" else None)
    print("PORT %d" % srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
