#!/bin/bash
# osprofiler-c devstack plugin: builds osprofiler-c, installs it, and runs
# osprofiler-sidecar (publishing with the messaging settings devstack wrote
# into $OSPROFILER_C_OSLO_CONF) and, if OSPROFILER_C_COLLECT_STORE is set, a
# collector, both as devstack services (osp-sidecar, osp-collector).
# See docs/devstack.md.

function install_osprofiler_c {
    "$OSPROFILER_C_DIR/scripts/deps.sh" build
    cmake -S "$OSPROFILER_C_DIR" -B "$OSPROFILER_C_DIR/build" -DCMAKE_BUILD_TYPE=Release \
          -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr/local
    cmake --build "$OSPROFILER_C_DIR/build" -j"$(nproc)"
    sudo cmake --install "$OSPROFILER_C_DIR/build"
}

function configure_osprofiler_c {
    sudo install -d -o "$STACK_USER" "$OSPROFILER_C_CONF_DIR" /var/lib/osprofiler \
        /run/osprofiler
    install -d -m 0700 /var/lib/osprofiler/spool
    cat > "$OSPROFILER_C_CONF_DIR/osprofiler-sidecar.conf" <<CONF
oslo_config = "$OSPROFILER_C_OSLO_CONF"
listen_socket = "/run/osprofiler/sidecar.sock"
listen_mode = "0666"
spool_dir = "/var/lib/osprofiler/spool"
store = "$OSPROFILER_C_COLLECT_STORE"
CONF
}

function start_osprofiler_c {
    local conf=$OSPROFILER_C_CONF_DIR/osprofiler-sidecar.conf
    run_process osp-sidecar "/usr/local/bin/osprofiler-sidecar --config $conf"
    if [[ -n "$OSPROFILER_C_COLLECT_STORE" ]]; then
        run_process osp-collector "/usr/local/bin/osprofiler-sidecar --config $conf \
            --collect --socket /run/osprofiler/collector.sock --spool-dir ''"
    fi
}

if [[ "$1" == "stack" && "$2" == "install" ]]; then
    install_osprofiler_c
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    configure_osprofiler_c
elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
    start_osprofiler_c
fi
if [[ "$1" == "unstack" ]]; then
    stop_process osp-sidecar
    stop_process osp-collector
fi
