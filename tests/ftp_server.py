"""A real FTP server on loopback for the ingest tests: just enough FTP for ftplib, one read-only folder.

The ``ftp_server`` fixture yields ``(root, port)``; log in with the password ``FTP_PASSWORD``
(any user). AUTH TLS, like every command it does not know, is answered ``502``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from pathlib import Path

import pytest

FTP_PASSWORD = "secret"


class _Handler(socketserver.StreamRequestHandler):
    """USER/PASS/TYPE/PWD/CWD/PASV/NLST/SIZE/RETR/QUIT over ``root``."""

    root: Path = Path(".")

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())

    def handle(self):
        self.reply("220 test ftp")
        passive = None
        while line := self.rfile.readline().decode().strip():
            cmd, _, arg = line.partition(" ")
            cmd = cmd.upper()
            if cmd == "USER":
                self.reply("331 password please")
            elif cmd == "PASS":  # the password from the URL reached the server
                self.reply("230 welcome" if arg == FTP_PASSWORD else "530 no")
            elif cmd in ("TYPE", "CWD"):
                self.reply("200 ok" if cmd == "TYPE" else "250 ok")
            elif cmd == "PWD":
                self.reply('257 "/"')
            elif cmd == "PASV":
                passive = socket.create_server(("127.0.0.1", 0))
                port = passive.getsockname()[1]
                self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
            elif cmd == "SIZE":
                path = self.root / arg
                self.reply(f"213 {path.stat().st_size}" if path.is_file() else "550 not a file")
            elif cmd in ("NLST", "RETR") and passive is not None:
                conn, _ = passive.accept()
                self.reply("150 here it comes")
                if cmd == "NLST":
                    conn.sendall("".join(p.name + "\r\n" for p in sorted(self.root.iterdir())).encode())
                else:
                    conn.sendall((self.root / arg).read_bytes())
                conn.close()
                passive.close()
                self.reply("226 done")
            elif cmd == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def ftp_server(tmp_path):
    root = tmp_path / "ftp-root"
    root.mkdir()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"root": root}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, server.server_address[1]
    server.shutdown()
    server.server_close()
