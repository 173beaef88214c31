import { Socket, BlockingIOError, SOL_SOCKET, SO_SNDBUF } from "@async-from-scratch/native";
const port = Number(process.argv[2]); const size = Number(process.argv[3]);
const sock = new Socket();
sock.connect(["127.0.0.1", port]);
sock.setBlocking(false);
console.log("sndbuf", sock.getsockopt(SOL_SOCKET, SO_SNDBUF));
const body = Buffer.alloc(size, 120);
const data = Buffer.concat([Buffer.from(`POST /u HTTP/1.0\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`), body]);
let sent = 0, fails = 0, calls = 0, firstFail = -1; const t0 = performance.now(); let waits = 0; let inWait = false;
while (sent < data.length) {
  try { sent += sock.send(data.subarray(sent)); calls++; inWait = false; }
  catch (e) { if (!(e instanceof BlockingIOError)) throw e; fails++; if (firstFail < 0) firstFail = sent; if (!inWait) { waits++; inWait = true; } }
}
console.log({ sent, calls, fails, firstFail, waits, ms: (performance.now() - t0).toFixed(0), sndbuf: sock.getsockopt(SOL_SOCKET, SO_SNDBUF) });
sock.setBlocking(true);
let r = sock.recv(4096); console.log(r.toString().split("\r\n\r\n")[1]);
