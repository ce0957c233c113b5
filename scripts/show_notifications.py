#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Print the oslo.messaging notifications waiting in a queue, one line each
(event_type, publisher_id, point name, trace_id), and the first body whole.

    show_notifications.py AMQP_PORT [QUEUE] [EXCHANGE]

Messages are read with basic.get and acknowledged: this is for the private
broker of scripts/quickstart.sh --rabbitmq, never for a shared queue.
"""
import json
import sys

import amqp


def main():
    port = int(sys.argv[1])
    queue = sys.argv[2] if len(sys.argv) > 2 else "profiler.info"
    conn = amqp.Connection(host="127.0.0.1:%d" % port, userid="guest", password="guest")
    conn.connect()
    ch = conn.channel()
    n = 0
    while True:
        msg = ch.basic_get(queue=queue)
        if msg is None:
            break
        body = json.loads(msg.body)
        if "oslo.message" in body:  # format 2.0 envelope
            body = json.loads(body["oslo.message"])
        if n == 0:
            print("first message body (format 1.0, as oslo.messaging sends it):")
            print(json.dumps(body, indent=2))
            print()
        p = body["payload"]
        print("%-22s publisher=%-12s %-14s trace_id=%s" % (
            body["event_type"], body["publisher_id"], p["name"], p["trace_id"]))
        ch.basic_ack(msg.delivery_tag)
        n += 1
    conn.close()
    print("%d notifications in queue %s" % (n, queue))
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
