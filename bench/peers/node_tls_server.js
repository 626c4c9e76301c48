// A Node.js `tls` server answering +PONG to each PING line, like node_server.js but over TLS
// (one event loop, one core). Usage: node node_tls_server.js PORT CERT KEY (PORT 0: any).
"use strict";
const fs = require("fs");
const tls = require("tls");

const [port, cert, key] = [Number(process.argv[2] || 0), process.argv[3], process.argv[4]];
const server = tls.createServer(
  { cert: fs.readFileSync(cert), key: fs.readFileSync(key), minVersion: "TLSv1.3" },
  (socket) => {
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
  }
);
server.on("tlsClientError", () => {});
server.listen({ host: "127.0.0.1", port, backlog: 1024 }, () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
