#!/usr/bin/env python3
"""mailproto-fetch as a program against the Dovecot of tests/servers.

Run through tests/servers/with-servers (it exports the stack's env keys):
    fetch_cli.py PATH/TO/mailproto-fetch
Checks the command line of DESIGN.md section 17: list, status, headers
(decoded subject), fetch --raw / --part / --save, search, append (prints the
UID), copy, move, flag, delete, mkdir / rename / rmdir, idle (sees a message
appended meanwhile), and the exit codes 0 / 1 / 2.
"""
import os
import subprocess
import sys
import tempfile
import time

exe = sys.argv[1]
E = os.environ
uniq = "%d-%d" % (time.time(), os.getpid())
fails = 0


def run(*args, env_pw=True, stdin=None, timeout=30, password=None):
    env = dict(E)
    env.pop("MAILPROTO_PASSWORD", None)
    if env_pw:
        env["MAILPROTO_PASSWORD"] = password if password is not None else E["PASS1"]
    cmd = [exe, "--server", "imaps://localhost:%s" % E["IMAPS_PORT"], "--user", E["USER1"],
           "--cafile", E["CA_FILE"]] + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what, detail=""):
    global fails
    if not cond:
        fails += 1
        print("FAIL", what, detail)
    else:
        print("ok  ", what)


msg = ("From: Bob <bob@mailproto.test>\r\nTo: alice@mailproto.test\r\n"
       "Subject: =?UTF-8?B?R3LDvMOfZQ==?= %s\r\nDate: Mon, 30 Nov 2026 01:00:00 +0000\r\n"
       "Message-ID: <cli.%s@mailproto.test>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
       "caf=C3=A9\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
       "Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       "AAECAwQ=\r\n--b1--\r\n") % (uniq, uniq)

with tempfile.TemporaryDirectory() as tmp:
    box = "Cli-%s" % uniq
    rc, out, err = run("mkdir", box)
    check(rc == 0, "mkdir", err)
    rc, out, err = run("append", box, "-", stdin=msg.encode())
    check(rc == 0 and out.strip().isdigit(), "append prints the UID", out + err)
    uid = out.strip()
    rc, out, err = run("list")
    check(rc == 0 and "INBOX" in out.split() and box in out and "\\Sent" in out, "list with special use", out + err)
    rc, out, err = run("status", box)
    check(rc == 0 and "MESSAGES 1" in out and "UIDNEXT" in out and "UIDVALIDITY" in out, "status", out + err)
    rc, out, err = run("headers", box, "--limit", "5")
    check(rc == 0 and ("%s\t" % uid) in out and "Grüße %s" % uniq in out and "bob@mailproto.test" in out,
          "headers: decoded subject", out + err)
    rc, out, err = run("search", box, "SUBJECT", uniq)
    check(rc == 0 and out.split() == [uid], "search", out + err)
    rc, out, err = run("fetch", box, uid, "--raw")
    check(rc == 0 and out.replace("\n", "\r\n").replace("\r\r\n", "\r\n") == msg, "fetch --raw", out[:200] + err)
    rc, out, err = run("fetch", box, uid, "--part", "1")
    check(rc == 0 and out.strip() == "café", "fetch --part (decoded)", repr(out) + err)
    rc, out, err = run("fetch", box, uid, "--save", os.path.join(tmp, "att"))
    saved = os.path.join(tmp, "att", "data.bin")
    check(rc == 0 and os.path.exists(saved) and open(saved, "rb").read() == b"\x00\x01\x02\x03\x04",
          "fetch --save", out + err)
    rc, out, err = run("flag", box, uid, "+\\Flagged", "+\\Seen")
    rc2, out2, _ = run("search", box, "FLAGGED", "SEEN")
    check(rc == 0 and out2.split() == [uid], "flag + search by flag", out + err + out2)
    rc, out, err = run("flag", box, uid, "-\\Flagged")
    rc2, out2, _ = run("search", box, "FLAGGED")
    check(rc == 0 and out2.split() == [], "flag removal", out + err + out2)
    rc, out, err = run("copy", box, uid, "Trash")
    check(rc == 0, "copy", err)
    box2 = box + "-moved"
    check(run("mkdir", box2)[0] == 0, "mkdir 2")
    rc, out, err = run("move", box, uid, box2)
    check(rc == 0 and run("status", box)[1].startswith("MESSAGES 0"), "move", out + err)
    rc, out, err = run("search", box2, "ALL")
    moved = out.split()
    check(rc == 0 and len(moved) == 1, "moved message found", out + err)
    rc, out, err = run("delete", box2, moved[0] if moved else "1")
    check(rc == 0 and run("status", box2)[1].startswith("MESSAGES 0"), "delete (\\Deleted + expunge)", out + err)
    rc, out, err = run("rename", box2, box2 + "-renamed")
    check(rc == 0 and (box2 + "-renamed") in run("list")[1], "rename", err)
    check(run("rmdir", box2 + "-renamed")[0] == 0 and run("rmdir", box)[0] == 0, "rmdir")
    rc, out, err = run("status", box)
    check(rc == 1 and err.startswith("mailproto-fetch: ") and "NO" in err, "exit 1 with the server's reply", err)

    # idle: a message appended meanwhile shows up as EXISTS
    env = dict(E, MAILPROTO_PASSWORD=E["PASS1"])
    cmd = [exe, "--server", "imaps://localhost:%s" % E["IMAPS_PORT"], "--user", E["USER1"], "--cafile",
           E["CA_FILE"], "idle", "INBOX", "--count", "1", "--timeout", "15"]
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(1.5)
    run("append", "INBOX", "-", stdin=msg.replace("cli.", "idle.").encode())
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    out = out.decode()
    check(p.returncode == 0 and out.startswith("EXISTS ") and time.time() - t0 < 15, "idle sees EXISTS",
          out + err.decode())

    # exit codes
    rc, out, err = run("list", password="wrong")
    check(rc == 1 and "AUTHENTICATIONFAILED" in err, "wrong password: exit 1", err)
    rc, out, err = run("list", env_pw=False)
    check(rc == 2, "no password: exit 2", err)
    rc, out, err = run("frobnicate")
    check(rc == 2, "unknown command: exit 2", err)
    rc, out, err = run("fetch", "INBOX", "notanumber")
    check(rc == 2, "bad UID: exit 2", err)
    p = subprocess.run([exe, "--server", "imap+plain://localhost:%s" % E["IMAP_PORT"], "list"], capture_output=True)
    check(p.returncode == 2, "plain URL without --allow-plaintext: exit 2")
    p = subprocess.run([exe, "--help"], capture_output=True)
    check(p.returncode == 0 and b"usage:" in p.stdout, "--help")

print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
