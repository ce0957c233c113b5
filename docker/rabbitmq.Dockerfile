# RabbitMQ from Debian's own package (rabbitmq-server), for docker/compose.yaml
# and the test docker.image where no registry is reachable:
#   docker build --network host -f docker/rabbitmq.Dockerfile \
#       --build-arg BASE=osprofiler-c/debian:bookworm -t osprofiler-c/rabbitmq docker
# Meant for --network host (compose: network_mode: host): the node listens on
# 127.0.0.1 only, on ports set by the environment (docker/rabbitmq-run.sh).
ARG BASE=debian:12-slim
FROM $BASE
# policy-rc.d: the package's postinst must not try to start a service here
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/* /var/lib/rabbitmq/mnesia /var/log/rabbitmq/* \
    && rm -f /usr/sbin/policy-rc.d \
    && install -d -o rabbitmq -g rabbitmq -m 0750 /var/lib/rabbitmq /var/lib/rabbitmq/data
COPY rabbitmq-run.sh /usr/local/bin/rabbitmq-run
USER rabbitmq
ENV HOME=/var/lib/rabbitmq
VOLUME ["/var/lib/rabbitmq/data"]
ENTRYPOINT ["/usr/local/bin/rabbitmq-run"]
CMD ["server"]
