// A Node.js `net` server answering +PONG to each PING line (one event loop, one core).
"use strict";
const net = require("net");

const port = Number(process.argv[2] || 9002);
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending = "";
  socket.on("data", (data) => {
    pending += data.toString("latin1");
    let reply = "";
    let end;
    while ((end = pending.indexOf("\n")) !== -1) {
      pending = pending.slice(end + 1);
      reply += "+PONG\r\n";
    }
    if (reply) socket.write(reply);
  });
  socket.on("error", () => {});
});
server.listen({ host: "127.0.0.1", port, backlog: 1024 }, () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
