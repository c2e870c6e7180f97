#!/usr/bin/python3
"""Renders every overlay under deploy/overlays with `kubectl kustomize` and holds the result
to what the code needs. Needs no cluster and no network: only kubectl (its embedded
kustomize) and python3-yaml.

What the code needs is read from the source, not written down here:

  * The variables a service reads. Settings are read through config::Settings, whose
    EnvName maps a key to GRIDLOOP_<KEY> (common/config/config.cc). For each service the
    test collects the keys its files under services/<svc>/ read with Get/GetInt/
    GetDuration/GetBool("key"), the keys of ProcessSettings::ReadProcess and
    ConsumerSettings::ReadConsumer (common/config/process_settings.cc) when the service
    calls them, every GRIDLOOP_* name written in its files (messages name the variable),
    and the variables common/ reads with getenv (the log level, read by every service).
  * The topics: every `gridloop.<domain>.<kind>.v<N>[.dlq]` name in services/*/app.{h,cc},
    common/ and tools/devbroker/main.cc, plus `<topic>.dlq` (the suffix the consumer in
    common/kafka/consumer.cc uses) for every topic a service consumes.
  * Who calls whom: a service that reads GRIDLOOP_<PEER>_ADDR calls <peer>.
  * The drain timeout's default (common/config/process_settings.h).

The rule for variables: every variable a service reads must be set in its Deployment,
either explicitly or from a ConfigMap or Secret (env valueFrom, or envFrom a ConfigMap
rendered by the same overlay), also where the value equals the built-in default, so that
the manifests say what runs. The exceptions are in UNSET_ON_PURPOSE below, each with its
reason. A variable set twice (two sources) is an error, as is a GRIDLOOP_* variable that
no service reads (a misspelt name is otherwise silently ignored).

Every other check is listed in main()'s docstring. Each violation is printed on its own
line naming the overlay, the object and what is wrong; the exit status is 1 if there is
any, 77 (CTest's skip) when kubectl is not installed, 0 otherwise.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

# Variables a service reads that the manifests leave unset, and why.
UNSET_ON_PURPOSE = {
    "GRIDLOOP_CONSUMER_PARTITIONS":
        "it makes a replica read fixed partitions instead of joining the consumer group, "
        "so replicas would no longer share the partitions",
    "GRIDLOOP_CATEGORIES_FILE":
        "a file path; unset means the built-in category taxonomy. Set it together with a "
        "mounted ConfigMap holding the CSV (docs/operations.md)",
    "GRIDLOOP_ROUTING_FILE":
        "a file path; unset means the built-in routing table. Set it together with a "
        "mounted ConfigMap holding the CSV (docs/operations.md)",
    "GRIDLOOP_SCORING_FILE":
        "a file path; unset means the built-in formula v1. Set it together with a mounted "
        "ConfigMap holding the formula versions (docs/operations.md)",
    "GRIDLOOP_SKILLS":
        "unset means the built-in skill catalog, which the built-in routing table refers "
        "to; set it only together with a routing file that uses the same skills",
}

# Of those, the ones that must never be set in a Deployment.
MUST_STAY_UNSET = {"GRIDLOOP_CONSUMER_PARTITIONS"}

# Of those, the ones naming a file: when set, the path must be on a mounted volume.
FILE_SETTINGS = {"GRIDLOOP_CATEGORIES_FILE", "GRIDLOOP_ROUTING_FILE", "GRIDLOOP_SCORING_FILE"}

# Key material: must come from a Secret the operator creates, never from a ConfigMap or a
# literal, and no rendered object may contain it.
SECRET_ONLY = {"GRIDLOOP_PII_KEYS", "GRIDLOOP_PII_INDEX_KEY"}

TOPIC_RE = re.compile(r"gridloop\.[a-z_]+\.[a-z_]+\.v\d+(?:\.dlq)?\b")
SETTINGS_DECL_RE = re.compile(r"\bSettings\s*&?\s*(\w+)\s*[,)=;]")
GETENV_RE = re.compile(r'getenv\(\s*"(GRIDLOOP_[A-Z0-9_]+)"\s*\)')
ENV_LITERAL_RE = re.compile(r"\bGRIDLOOP_[A-Z0-9_]*[A-Z0-9]\b")
DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")


class Violations:
    """Collects what is wrong, one line each."""

    def __init__(self):
        self.lines = []

    def add(self, where, what):
        line = f"{where}: {what}"
        if line not in self.lines:  # a file checked once per overlay reports once
            self.lines.append(line)


# --------------------------------------------------------------------------------------
# What the code needs
# --------------------------------------------------------------------------------------


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def source_files(directory, recursive=False):
    """The .cc and .h files under `directory`, tests excluded."""
    pattern = "**/*" if recursive else "*"
    out = []
    for ext in ("cc", "h"):
        out += glob.glob(os.path.join(directory, f"{pattern}.{ext}"), recursive=recursive)
    return sorted(p for p in out if not re.search(r"_test\.(cc|h)$", p))


def function_body(text, signature_re):
    """The first function whose head matches, from its head to its closing brace."""
    m = re.search(signature_re, text)
    if m is None:
        return None
    start = text.index("{", m.end() - 1)
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[m.start():i + 1]
    return None


def settings_keys(text):
    """Keys read through a config::Settings in `text`: receiver.Get*("key")."""
    receivers = set(SETTINGS_DECL_RE.findall(text))
    keys = set()
    for r in receivers:
        keys |= set(re.findall(
            r"\b" + re.escape(r) + r'\s*(?:\.|->)\s*Get(?:Int|Duration|Bool)?\(\s*"([a-z0-9_]+)"',
            text))
    return keys


def env_literals(text):
    """GRIDLOOP_* names in `text` that are variables: not header guards or macros."""
    not_env = set(re.findall(r"#\s*(?:ifndef|define|endif\s*//)\s*(GRIDLOOP_\w+)", text))
    return {n for n in ENV_LITERAL_RE.findall(text) if n not in not_env and not n.endswith("_H_")}


def env_name(key):
    return "GRIDLOOP_" + key.upper()


def parse_duration(text):
    """Seconds in an absl/Go duration such as "20s", "1m30s", "500ms"."""
    text = text.strip()
    parts = DURATION_PART_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


class Code:
    """What the sources say the deployment must provide."""

    def __init__(self, root):
        self.root = root
        config_cc = read(os.path.join(root, "common/config/config.cc"))
        env_name_body = function_body(config_cc, r"std::string Settings::EnvName\([^)]*\)\s*\{")
        if (env_name_body is None or '"GRIDLOOP_"' not in env_name_body
                or "AsciiStrToUpper" not in env_name_body):
            raise SystemExit("check_manifests: Settings::EnvName no longer maps `key` to "
                             "GRIDLOOP_KEY; update this test")
        process_cc = read(os.path.join(root, "common/config/process_settings.cc"))
        process_keys = settings_keys(function_body(
            process_cc, r"absl::Status ProcessSettings::ReadProcess\([^)]*\)\s*\{") or "")
        consumer_keys = settings_keys(function_body(
            process_cc, r"absl::Status ConsumerSettings::ReadConsumer\([^)]*\)\s*\{") or "")
        if not process_keys or not consumer_keys:
            raise SystemExit("check_manifests: cannot find ReadProcess/ReadConsumer in "
                             "common/config/process_settings.cc; update this test")

        common_env = set()
        for path in source_files(os.path.join(root, "common"), recursive=True):
            common_env |= set(GETENV_RE.findall(read(path)))

        self.services = sorted(
            os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(root, "services/*/main.cc")))
        self.env = {}        # service -> {variable: file that reads it}
        self.members = {}    # service -> {AppConfig member: settings key}
        self.consumed = {}   # service -> [settings keys of the topics it consumes]
        self.health_names = {}  # service -> [health service names, e.g. gridloop.v1.X]
        self.topic_defaults = {}  # service -> {variable: default topic}
        for svc in self.services:
            sdir = os.path.join(root, "services", svc)
            env = {}
            members = {}
            for path in source_files(sdir):
                text = read(path)
                rel = os.path.relpath(path, root)
                for key in settings_keys(text):
                    env.setdefault(env_name(key), rel)
                for name in env_literals(text) | set(GETENV_RE.findall(text)):
                    env.setdefault(name, rel)
                if re.search(r"\bReadProcess\(", text):
                    for key in process_keys:
                        env.setdefault(env_name(key), "common/config/process_settings.cc")
                if re.search(r"\bReadConsumer\(", text):
                    for key in consumer_keys:
                        env.setdefault(env_name(key), "common/config/process_settings.cc")
                for member, key in re.findall(
                        r"\bc\.(\w+)\s*=\s*\w+\.Get\w*\(\s*\"([a-z0-9_]+)\"", text):
                    members[member] = key
            for name in common_env:
                env.setdefault(name, "common/ (getenv)")
            env.pop("GRIDLOOP_", None)
            self.env[svc] = env
            self.members[svc] = members

            app_cc = os.path.join(sdir, "app.cc")
            app_h = os.path.join(sdir, "app.h")
            consumed = []
            if os.path.exists(app_cc):
                for group in re.findall(r"copts\.topics\s*=\s*\{([^}]*)\}", read(app_cc)):
                    for member in re.findall(r"config\.(\w+)", group):
                        if member in members:
                            consumed.append(members[member])
            self.consumed[svc] = consumed
            # The names its health service answers for besides "" (what readiness follows).
            self.health_names[svc] = (
                re.findall(r'"([\w.]+)"', " ".join(re.findall(
                    r"health_services\s*=\s*\{([^}]*)\}", read(app_cc))))
                if os.path.exists(app_cc) else [])

            defaults = {}
            if os.path.exists(app_h):
                h = read(app_h)
                constants = dict(re.findall(r'constexpr char (k\w+)\[\]\s*=\s*"([^"]+)"', h))
                for member, const in re.findall(r"std::string (\w+)\s*=\s*(k\w+);", h):
                    key = members.get(member)
                    if key is not None and const in constants:
                        defaults[env_name(key)] = constants[const]
            self.topic_defaults[svc] = defaults

        self.all_env = set().union(*self.env.values()) if self.env else set()

        topic_files = []
        for svc in self.services:
            topic_files += [os.path.join(root, "services", svc, f) for f in ("app.h", "app.cc")]
        topic_files += source_files(os.path.join(root, "common"), recursive=True)
        topic_files.append(os.path.join(root, "tools/devbroker/main.cc"))
        self.topics = set()
        for path in topic_files:
            if os.path.exists(path):
                self.topics |= set(TOPIC_RE.findall(read(path)))
        consumer_cc = read(os.path.join(root, "common/kafka/consumer.cc"))
        m = re.search(r'StrCat\(\s*record\.topic\s*,\s*"(\.[a-z]+)"\s*\)', consumer_cc)
        if m is None:
            raise SystemExit("check_manifests: cannot find the dead-letter topic suffix in "
                             "common/kafka/consumer.cc; update this test")
        self.dlq_suffix = m.group(1)
        for svc in self.services:
            for key in self.consumed[svc]:
                default = self.topic_defaults[svc].get(env_name(key))
                if default:
                    self.topics.add(default + self.dlq_suffix)

        header = read(os.path.join(root, "common/config/process_settings.h"))
        m = re.search(r"drain_timeout\s*=\s*absl::(Seconds|Milliseconds|Minutes)\((\d+)\)", header)
        if m is None:
            raise SystemExit("check_manifests: cannot find the drain_timeout default in "
                             "common/config/process_settings.h; update this test")
        self.drain_default = int(m.group(2)) * {"Seconds": 1, "Milliseconds": 1e-3,
                                                "Minutes": 60}[m.group(1)]

    def peers(self, svc):
        """The services `svc` calls: those whose GRIDLOOP_<PEER>_ADDR it reads."""
        out = set()
        for name in self.env[svc]:
            m = re.fullmatch(r"GRIDLOOP_([A-Z]+)_ADDR", name)
            if m and m.group(1).lower() in self.services:
                out.add(m.group(1).lower())
        return out


# --------------------------------------------------------------------------------------
# The rendered manifests
# --------------------------------------------------------------------------------------


def render(kubectl, overlay):
    proc = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return None, proc.stderr.strip()
    return [d for d in yaml.safe_load_all(proc.stdout) if d], None


def selector_matches(selector, labels):
    """Kubernetes label selector semantics; None matches nothing, {} everything."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def host_port(value):
    host, _, port = value.rpartition(":")
    return host, int(port)


class Rendered:
    """One overlay's objects, indexed."""

    def __init__(self, name, docs):
        self.name = name
        self.docs = docs
        self.by_kind = {}
        for d in docs:
            self.by_kind.setdefault(d["kind"], []).append(d)

    def of(self, kind):
        return self.by_kind.get(kind, [])

    def find(self, kind, name):
        for d in self.of(kind):
            if d["metadata"]["name"] == name:
                return d
        return None


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def pod_labels(workload):
    return workload["spec"]["template"]["metadata"].get("labels") or {}


def where(r, obj, container=None):
    s = f"[{r.name}] {obj['kind']} {obj['metadata']['name']}"
    return s + (f" container {container}" if container else "")


def effective(pod_sc, c_sc, field):
    if field in (c_sc or {}):
        return c_sc[field]
    return (pod_sc or {}).get(field)


# --------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------


def check_containers(r, v):
    """Probes (long-running containers), resources and a locked-down security context."""
    for kind in ("Deployment", "StatefulSet", "Job"):
        for w in r.of(kind):
            spec = pod_spec(w)
            psc = spec.get("securityContext") or {}
            runs = [(c, True) for c in spec.get("containers") or []]
            runs += [(c, False) for c in spec.get("initContainers") or []]
            for c, main in runs:
                at = where(r, w, c["name"])
                if kind != "Job" and main:
                    for probe in ("readinessProbe", "livenessProbe"):
                        if not c.get(probe):
                            v.add(at, f"has no {probe}")
                res = c.get("resources") or {}
                for part in ("requests", "limits"):
                    for what in ("cpu", "memory"):
                        if not (res.get(part) or {}).get(what):
                            v.add(at, f"has no resources.{part}.{what}")
                csc = c.get("securityContext") or {}
                if effective(psc, csc, "runAsNonRoot") is not True:
                    v.add(at, "does not set runAsNonRoot: true (pod or container)")
                uid = effective(psc, csc, "runAsUser")
                if not isinstance(uid, int) or uid == 0:
                    v.add(at, "does not set a non-zero runAsUser (pod or container)")
                if csc.get("readOnlyRootFilesystem") is not True:
                    v.add(at, "does not set readOnlyRootFilesystem: true")
                if csc.get("allowPrivilegeEscalation") is not False:
                    v.add(at, "does not set allowPrivilegeEscalation: false")
                if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
                    v.add(at, "does not drop ALL capabilities")
                seccomp = (effective(psc, csc, "seccompProfile") or {}).get("type")
                if seccomp != "RuntimeDefault":
                    v.add(at, "does not use seccompProfile RuntimeDefault")


def service_workloads(r, code, v):
    """{service: (Deployment, its container)} for the GridLoop services."""
    out = {}
    for d in r.of("Deployment"):
        svc = pod_labels(d).get("gridloop.io/service")
        if svc is None:
            continue
        if svc not in code.services:
            v.add(where(r, d), f"gridloop.io/service={svc} is not a service in services/")
            continue
        if svc in out:
            v.add(where(r, d), f"a second Deployment for {svc}")
            continue
        containers = pod_spec(d).get("containers") or []
        named = [c for c in containers if c["name"] == svc]
        c = named[0] if named else (containers[0] if len(containers) == 1 else None)
        if c is None:
            v.add(where(r, d), f"has no container named {svc}")
            continue
        out[svc] = (d, c)
    for svc in code.services:
        if svc not in out:
            v.add(f"[{r.name}]", f"no Deployment labelled gridloop.io/service={svc}")
    return out


def resolve_env(r, w, c, v):
    """{variable: (source kind, value or None)} as the container will see it."""
    at = where(r, w, c["name"])
    env = {}

    def put(name, source, value):
        if name in env:
            v.add(at, f"{name} is set twice ({env[name][0]} and {source})")
            return
        env[name] = (source, value)

    for ref in c.get("envFrom") or []:
        prefix = ref.get("prefix", "")
        if "configMapRef" in ref:
            name = ref["configMapRef"]["name"]
            cm = r.find("ConfigMap", name)
            if cm is None:
                if not ref["configMapRef"].get("optional"):
                    v.add(at, f"envFrom ConfigMap {name} is not part of the overlay")
                continue
            for k, val in (cm.get("data") or {}).items():
                put(prefix + k, f"ConfigMap {name}", str(val))
        elif "secretRef" in ref:
            name = ref["secretRef"]["name"]
            secret = r.find("Secret", name)
            for k in ((secret or {}).get("data") or {}):
                put(prefix + k, f"Secret {name}", None)
            for k in ((secret or {}).get("stringData") or {}):
                put(prefix + k, f"Secret {name}", None)
    for e in c.get("env") or []:
        name = e["name"]
        if "value" in e:
            put(name, "value", str(e["value"]))
            continue
        vf = e.get("valueFrom") or {}
        if "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            cm = r.find("ConfigMap", ref["name"])
            val = ((cm or {}).get("data") or {}).get(ref["key"])
            if val is None and not ref.get("optional"):
                v.add(at, f"{name}: ConfigMap {ref['name']} key {ref['key']} is not in the overlay")
            put(name, f"ConfigMap {ref['name']}", val)
        elif "secretKeyRef" in vf:
            put(name, f"Secret {vf['secretKeyRef']['name']}", None)
        elif vf:
            put(name, "fieldRef", None)
        else:
            put(name, "value", "")
    return env


def check_services(r, code, v):
    """The GridLoop services' Deployments against what their code reads."""
    workloads = service_workloads(r, code, v)
    envs = {}
    for svc, (d, c) in sorted(workloads.items()):
        at = where(r, d, c["name"])
        spec = pod_spec(d)
        env = resolve_env(r, d, c, v)
        envs[svc] = env
        reads = code.env[svc]
        for name, reader in sorted(reads.items()):
            if name in UNSET_ON_PURPOSE:
                continue
            if name not in env:
                v.add(at, f"{name} is read by {svc} ({reader}) but not set")
        for name in sorted(env):
            if name.startswith("GRIDLOOP_") and name not in code.all_env:
                v.add(at, f"{name} is set but no service reads it")
            if name in MUST_STAY_UNSET:
                v.add(at, f"{name} must not be set: {UNSET_ON_PURPOSE[name]}")
        for name in sorted(SECRET_ONLY & set(reads)):
            if name in env and not env[name][0].startswith("Secret "):
                v.add(at, f"{name} comes from {env[name][0]}; key material must come from a "
                          "Secret")
        mounts = [m["mountPath"] for m in c.get("volumeMounts") or []]
        for name in sorted(FILE_SETTINGS & set(env)):
            path = env[name][1] or ""
            if path and not any(path.startswith(m.rstrip("/") + "/") for m in mounts):
                v.add(at, f"{name}={path} is not on a mounted volume")

        # Ports: the listen addresses, the container ports and the probes agree.
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        listen = (env.get("GRIDLOOP_LISTEN") or (None, None))[1]
        grpc_port = host_port(listen)[1] if listen else None
        if grpc_port is not None and ports.get("grpc") != grpc_port:
            v.add(at, f"container port `grpc` is {ports.get('grpc')}, GRIDLOOP_LISTEN says "
                      f"{grpc_port}")
        metrics = (env.get("GRIDLOOP_METRICS_LISTEN") or (None, None))[1]
        if metrics and ports.get("metrics") != host_port(metrics)[1]:
            v.add(at, f"container port `metrics` is {ports.get('metrics')}, "
                      f"GRIDLOOP_METRICS_LISTEN says {host_port(metrics)[1]}")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            p = c.get(probe)
            if p is None:
                continue
            if "grpc" not in p:
                v.add(at, f"{probe} is not a gRPC health probe")
            elif grpc_port is not None and p["grpc"].get("port") != grpc_port:
                v.add(at, f"{probe} probes port {p['grpc'].get('port')}, the service listens "
                          f"on {grpc_port}")
            if "grpc" not in p:
                continue
            # Readiness asks for the service's own name, which follows Redis; liveness and
            # startup ask for "", which does not, so that an outage restarts nothing.
            asked = p["grpc"].get("service") or ""
            if probe == "readinessProbe" and asked not in code.health_names[svc]:
                v.add(at, f"readinessProbe asks for {asked!r}, not one of the names {svc} "
                          f"reports readiness under: {code.health_names[svc]}")
            if probe != "readinessProbe" and asked:
                v.add(at, f"{probe} asks for {asked!r}: only readiness may follow Redis; "
                          "liveness and startup ask for \"\"")

        # Topics: the names the code uses.
        for name, (source, value) in sorted(env.items()):
            if not name.endswith("_TOPIC") or value is None:
                continue
            default = code.topic_defaults[svc].get(name)
            if default is not None and value != default:
                v.add(at, f"{name}={value} ({source}) but the code's topic is {default}")
            elif value not in code.topics:
                v.add(at, f"{name}={value} ({source}) is not a topic the code uses")

        # Shutdown: the grace period covers the preStop pause and the drain.
        drain = code.drain_default
        if "GRIDLOOP_DRAIN_TIMEOUT" in env and env["GRIDLOOP_DRAIN_TIMEOUT"][1] is not None:
            try:
                drain = parse_duration(env["GRIDLOOP_DRAIN_TIMEOUT"][1])
            except ValueError as e:
                v.add(at, f"GRIDLOOP_DRAIN_TIMEOUT: {e}")
        pre_stop = ((c.get("lifecycle") or {}).get("preStop") or {})
        pause = (pre_stop.get("sleep") or {}).get("seconds", 0)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if not grace > drain + pause:
            v.add(where(r, d), f"terminationGracePeriodSeconds {grace} is not more than the "
                               f"drain timeout ({drain:g} s) plus the preStop pause ({pause} s)")
        if spec.get("enableServiceLinks") is not False:
            v.add(where(r, d), "enableServiceLinks is not false: service links would add "
                               "GRIDLOOP_*-named variables to the environment")

    # Key material is referenced, never contained.
    for kind in ("Secret", "ConfigMap"):
        for obj in r.of(kind):
            keys = set((obj.get("data") or {})) | set((obj.get("stringData") or {}))
            for name in sorted(SECRET_ONLY & keys):
                v.add(where(r, obj), f"contains {name}; create that Secret outside the "
                                     "manifests")
    # Every ConfigMap topic is one the code uses.
    for cm in r.of("ConfigMap"):
        for k, val in sorted((cm.get("data") or {}).items()):
            if k.startswith("GRIDLOOP_") and k.endswith("_TOPIC") and val not in code.topics:
                v.add(where(r, cm), f"{k}={val} is not a topic the code uses")
    return workloads, envs


def check_peers(r, code, workloads, envs, v):
    """GRIDLOOP_<PEER>_ADDR points at the peer's Service and gRPC port; Redis and Kafka
    addresses that are bare names (this namespace) are Services of the overlay."""
    for svc, (d, c) in sorted(workloads.items()):
        at = where(r, d, c["name"])
        for name in ("GRIDLOOP_REDIS", "GRIDLOOP_KAFKA_BROKERS"):
            value = (envs[svc].get(name) or (None, None))[1]
            if name not in code.env[svc] or not value:
                continue
            for address in value.split(","):
                host, port = host_port(address.strip())
                if "." in host:
                    continue  # another namespace or outside the cluster
                s = r.find("Service", host)
                if s is None or port not in [p["port"] for p in s["spec"].get("ports") or []]:
                    v.add(at, f"{name}={value}: no Service {host} with port {port} here")
        for peer in sorted(code.peers(svc)):
            name = f"GRIDLOOP_{peer.upper()}_ADDR"
            value = (envs[svc].get(name) or (None, None))[1]
            if not value or peer not in workloads:
                continue
            host, port = host_port(value)
            svc_obj = r.find("Service", host.split(".")[0])
            if svc_obj is None:
                v.add(at, f"{name}={value}: no Service {host.split('.')[0]} in the overlay")
                continue
            peer_d, peer_c = workloads[peer]
            if not selector_matches({"matchLabels": svc_obj["spec"].get("selector") or {}},
                                    pod_labels(peer_d)) or not svc_obj["spec"].get("selector"):
                v.add(at, f"{name}={value}: Service {host} does not select {peer}'s pods")
                continue
            sport = [p for p in svc_obj["spec"].get("ports") or [] if p["port"] == port]
            if not sport:
                v.add(at, f"{name}={value}: Service {host} has no port {port}")
                continue
            target = sport[0].get("targetPort", port)
            cports = {p.get("name"): p["containerPort"] for p in peer_c.get("ports") or []}
            target = cports.get(target, target)
            if target != cports.get("grpc"):
                v.add(at, f"{name}={value}: Service port {port} leads to {target}, {peer} "
                          f"serves gRPC on {cports.get('grpc')}")


def check_scaling(r, code, workloads, v):
    """A PDB and an autoscaling/v2 CPU HPA per Deployment; consumers within partitions."""
    prod = r.name == "prod"
    for d in r.of("Deployment"):
        labels = pod_labels(d)
        ns = d["metadata"].get("namespace")
        pdbs = [p for p in r.of("PodDisruptionBudget")
                if p["metadata"].get("namespace") == ns
                and selector_matches(p["spec"].get("selector"), labels)]
        if not pdbs:
            v.add(where(r, d), "no PodDisruptionBudget selects its pods")
        hpas = [h for h in r.of("HorizontalPodAutoscaler")
                if h["metadata"].get("namespace") == ns
                and h["spec"]["scaleTargetRef"].get("kind") == "Deployment"
                and h["spec"]["scaleTargetRef"].get("name") == d["metadata"]["name"]]
        if not hpas:
            v.add(where(r, d), "no HorizontalPodAutoscaler scales it")
            continue
        h = hpas[0]
        if h["apiVersion"] != "autoscaling/v2":
            v.add(where(r, h), f"is {h['apiVersion']}, not autoscaling/v2")
        if not any(m.get("type") == "Resource" and m["resource"].get("name") == "cpu"
                   for m in h["spec"].get("metrics") or []):
            v.add(where(r, h), "does not scale on CPU")
        lo, hi = h["spec"].get("minReplicas", 1), h["spec"]["maxReplicas"]
        if lo > hi:
            v.add(where(r, h), f"minReplicas {lo} > maxReplicas {hi}")
        if prod and (lo < 2 or d["spec"].get("replicas", 1) < 2):
            v.add(where(r, d), "production runs at least 2 replicas (replicas and the HPA's "
                               "minReplicas)")


def topic_partitions(r):
    """{topic: partitions} declared by the overlay: KafkaTopics, or a topic-creating Job."""
    out = {}
    for t in r.of("KafkaTopic"):
        name = (t.get("spec") or {}).get("topicName") or t["metadata"]["name"]
        out[name] = (t.get("spec") or {}).get("partitions")
    for job in r.of("Job"):
        for c in pod_spec(job).get("containers") or []:
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            if "TOPICS" in env:
                for name in env["TOPICS"].split(","):
                    if name.strip():
                        out[name.strip()] = int(env.get("PARTITIONS") or 0) or None
    return out


def check_topics(r, code, workloads, envs, v):
    """The overlay's topics are exactly the code's; prod declares them as KafkaTopics."""
    declared = topic_partitions(r)
    if r.name == "prod" and not r.of("KafkaTopic"):
        v.add(f"[{r.name}]", "declares no KafkaTopic resources")
    if declared:
        for t in sorted(code.topics - set(declared)):
            v.add(f"[{r.name}]", f"topic {t} (used by the code) is not created")
        for t in sorted(set(declared) - code.topics):
            v.add(f"[{r.name}]", f"topic {t} is created but the code does not use it")
    for t in r.of("KafkaTopic"):
        spec = t.get("spec") or {}
        if t["apiVersion"] != "kafka.strimzi.io/v1beta2":
            v.add(where(r, t), f"is {t['apiVersion']}, not kafka.strimzi.io/v1beta2")
        replicas = spec.get("replicas") or 0
        isr = int((spec.get("config") or {}).get("min.insync.replicas", 1))
        if replicas < 3:
            v.add(where(r, t), f"replicas {replicas}: production topics keep 3 copies")
        if not 2 <= isr < max(replicas, 1):
            v.add(where(r, t), f"min.insync.replicas {isr} with {replicas} replicas: acks=all "
                               "needs at least 2 in sync and tolerance for one broker down")
        if not spec.get("partitions"):
            v.add(where(r, t), "has no partition count")
    # A consumer group uses at most one member per partition.
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in r.of("HorizontalPodAutoscaler")}
    for svc, (d, _) in sorted(workloads.items()):
        h = hpas.get(d["metadata"]["name"])
        if h is None:
            continue
        for key in code.consumed[svc]:
            topic = (envs[svc].get(env_name(key)) or (None, None))[1]
            parts = declared.get(topic)
            if parts and h["spec"]["maxReplicas"] > parts:
                v.add(where(r, h), f"maxReplicas {h['spec']['maxReplicas']} > the {parts} "
                                   f"partitions of {topic}, which {svc} consumes in a group")


class Policies:
    """The overlay's NetworkPolicies, as they apply to one pod."""

    def __init__(self, r):
        self.r = r
        self.all = r.of("NetworkPolicy")

    def selecting(self, labels, ns, direction):
        for p in self.all:
            if p["metadata"].get("namespace") != ns:
                continue
            types = p["spec"].get("policyTypes") or ["Ingress"]
            if direction in types and selector_matches(p["spec"].get("podSelector"), labels):
                yield p


def port_numbers(rule_ports, named):
    """Port numbers (and protocols) a rule's `ports` allows; None = every port."""
    if not rule_ports:
        return None
    out = set()
    for p in rule_ports:
        port = p.get("port")
        if port is None:
            return None
        port = named.get(port, port)
        proto = p.get("protocol", "TCP")
        end = p.get("endPort", port)
        for n in range(port, end + 1) if isinstance(port, int) else [port]:
            out.add((n, proto))
    return out


def peer_matches_pod(peer, labels, same_ns):
    """Whether a NetworkPolicy peer (without namespaceSelector) covers a pod here."""
    if "ipBlock" in peer or "namespaceSelector" in peer:
        return False
    return same_ns and selector_matches(peer.get("podSelector"), labels)


def check_network(r, code, workloads, envs, v):
    """Ingress denied by default; only callers (GRIDLOOP_*_ADDR), clients and Prometheus
    admitted; egress limited to DNS, Redis, Kafka (for Kafka users) and the peers called."""
    pol = Policies(r)
    deny = [p for p in pol.all
            if p["spec"].get("podSelector") == {} and "Ingress" in (p["spec"].get("policyTypes")
                                                                    or ["Ingress"])
            and not p["spec"].get("ingress")]
    if not deny:
        v.add(f"[{r.name}]", "no default-deny ingress NetworkPolicy (podSelector {}, no rules)")
    callers_of = {s: {c for c in code.services if s in code.peers(c)} for s in code.services}
    kafka_ports = set()
    for env in envs.values():
        brokers = (env.get("GRIDLOOP_KAFKA_BROKERS") or (None, None))[1] or ""
        kafka_ports |= {host_port(b)[1] for b in brokers.split(",") if b.strip()}
    info = {}
    for svc, (d, c) in workloads.items():
        named = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        info[svc] = (pod_labels(d), d["metadata"].get("namespace"), named)

    for svc, (d, c) in sorted(workloads.items()):
        labels, ns, named = info[svc]
        grpc, metrics = named.get("grpc"), named.get("metrics")
        at = where(r, d)
        admitted = set()   # services admitted on the gRPC port
        scraped = False
        for p in pol.selecting(labels, ns, "Ingress"):
            for rule in p["spec"].get("ingress") or []:
                at_policy = f"{at} (NetworkPolicy {p['metadata']['name']})"
                peers = rule.get("from")
                ports = port_numbers(rule.get("ports"), named)
                if not peers:
                    v.add(at_policy, "an ingress rule admits every source")
                    continue
                if ports is None:
                    v.add(at_policy, "an ingress rule admits every port")
                    continue
                numbers = {n for n, _ in ports}
                for peer in peers:
                    if "ipBlock" in peer:
                        v.add(at_policy, "admits an ipBlock; callers are selected by label")
                        continue
                    if "namespaceSelector" in peer:
                        if numbers - {metrics}:
                            v.add(at_policy, f"admits another namespace on {sorted(numbers)}; only "
                                       f"the metrics port {metrics} is for outside scrapers")
                        else:
                            scraped = True
                        continue
                    hits = [s for s, (l2, ns2, _) in info.items()
                            if s != svc and peer_matches_pod(peer, l2, ns2 == ns)]
                    for caller in hits:
                        if caller not in callers_of[svc]:
                            v.add(at_policy, f"admits {caller}, which does not read "
                                       f"GRIDLOOP_{svc.upper()}_ADDR")
                        elif grpc in numbers:
                            admitted.add(caller)
                    if numbers - {grpc, metrics}:
                        v.add(at_policy, f"admits ports {sorted(numbers - {grpc, metrics})}; "
                                   f"{svc} serves only {grpc} and {metrics}")
        for caller in sorted(callers_of[svc] - admitted):
            v.add(at, f"no NetworkPolicy admits {caller} (it reads "
                      f"GRIDLOOP_{svc.upper()}_ADDR) on port {grpc}")
        if metrics and not scraped:
            v.add(at, f"no NetworkPolicy admits a metrics scraper on port {metrics}")

        # Egress.
        egress = list(pol.selecting(labels, ns, "Egress"))
        if not egress:
            v.add(at, "no NetworkPolicy restricts its egress")
            continue
        rules = [(p["metadata"]["name"], rule) for p in egress
                 for rule in p["spec"].get("egress") or []]

        def allows(port, proto="TCP", labels_to=None, rules=rules):
            for _, rule in rules:
                ports = port_numbers(rule.get("ports"), {})
                if ports is not None and (port, proto) not in ports:
                    continue
                peers = rule.get("to")
                if not peers:
                    return True
                for peer in peers:
                    if labels_to is None:
                        return True
                    if peer_matches_pod(peer, labels_to, True):
                        return True
            return False

        if not allows(53, "UDP"):
            v.add(at, "egress to DNS (53/UDP) is not allowed")
        redis = (envs[svc].get("GRIDLOOP_REDIS") or (None, None))[1]
        if redis and not allows(host_port(redis)[1]):
            v.add(at, f"egress to Redis ({redis}) is not allowed")
        reads_kafka = "GRIDLOOP_KAFKA_BROKERS" in code.env[svc]
        for kp in sorted(kafka_ports):
            if reads_kafka and not allows(kp):
                v.add(at, f"egress to Kafka (port {kp}) is not allowed")
        if not reads_kafka:
            for name, rule in rules:
                ports = port_numbers(rule.get("ports"), {}) or set()
                if any(n in kafka_ports for n, _ in ports):
                    v.add(f"{at} (NetworkPolicy {name})", "allows egress to Kafka, which "
                                                          f"{svc} does not use")
        for peer in sorted(code.peers(svc)):
            if peer in info and not allows(info[peer][2].get("grpc"), labels_to=info[peer][0]):
                v.add(at, f"egress to {peer} (GRIDLOOP_{peer.upper()}_ADDR) is not allowed")
        for other, (l2, ns2, n2) in sorted(info.items()):
            if other == svc or other in code.peers(svc) or ns2 != ns:
                continue
            for name, rule in rules:
                ports = port_numbers(rule.get("ports"), {})
                if ports is not None and (n2.get("grpc"), "TCP") not in ports:
                    continue
                for peer in rule.get("to") or []:
                    if peer_matches_pod(peer, l2, True):
                        v.add(f"{at} (NetworkPolicy {name})",
                              f"allows calls to {other}, but {svc} does not read "
                              f"GRIDLOOP_{other.upper()}_ADDR")


def check_images(root, r, workloads, v):
    """Each service has its Containerfile: exposes the ports the manifests use, runs as the
    same non-root user, exec-form entrypoint."""
    for svc, (d, c) in sorted(workloads.items()):
        path = os.path.join(root, "deploy/container", f"{svc}.Containerfile")
        rel = os.path.relpath(path, root)
        if not os.path.exists(path):
            v.add(rel, "missing")
            continue
        text = read(path)
        stages = re.split(r"^FROM\s", text, flags=re.M)
        final = stages[-1]
        if f"--target gridloop-{svc}" not in text:
            v.add(rel, f"does not build gridloop-{svc}")
        users = re.findall(r"^USER\s+(\d+)(?::\d+)?\s*$", final, flags=re.M)
        uid = effective(pod_spec(d).get("securityContext"), c.get("securityContext"),
                        "runAsUser")
        if not users or int(users[-1]) == 0:
            v.add(rel, "the runtime stage has no numeric non-root USER")
        elif uid is not None and int(users[-1]) != uid:
            v.add(rel, f"USER {users[-1]} but {where(r, d)} runs as {uid}")
        exposed = {int(p) for line in re.findall(r"^EXPOSE\s+(.*)$", final, flags=re.M)
                   for p in re.findall(r"\d+", line)}
        for p in c.get("ports") or []:
            if p["containerPort"] not in exposed:
                v.add(rel, f"does not EXPOSE {p['containerPort']} ({p.get('name')})")
        if not re.search(r'^ENTRYPOINT\s+\[\s*"', final, flags=re.M):
            v.add(rel, "ENTRYPOINT is not in exec form (it would need a shell)")


def main():
    """Per overlay: render it, then check:

    * containers: every container of a Deployment or StatefulSet has readiness and liveness
      probes; every container (init containers and Jobs too) has cpu and memory requests
      and limits, runs as non-root with a read-only root file system, without privilege
      escalation or capabilities, under the runtime's seccomp profile;
    * services: each gets every variable it reads (module docstring); its ports, gRPC
      probes, topics and peer addresses agree with the code and the Services; key material
      comes only from a Secret; the grace period exceeds the drain timeout plus the
      preStop pause; service links are off;
    * scaling: each Deployment has a PDB and an autoscaling/v2 CPU HPA (prod: at least 2
      replicas); no consumer can scale past the partitions of a topic it reads;
    * topics: those created are exactly the code's (prod: Strimzi KafkaTopics with at
      least 3 replicas and min.insync.replicas 2);
    * network: ingress denied by default; each service admits exactly the services that
      read its GRIDLOOP_<SERVICE>_ADDR, plus a metrics scraper from another namespace;
      egress only to DNS, Redis, Kafka (for the services that use it) and the peers called;
    * images: each service's Containerfile exposes its ports and runs as the same non-root
      user, with an exec-form entrypoint.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the source tree")
    parser.add_argument("--kubectl", default=shutil.which("kubectl"),
                        help="kubectl to render with (default: the one on PATH)")
    args = parser.parse_args()
    if not args.kubectl:
        print("check_manifests: kubectl is not installed (Debian: kubernetes-client); skipped")
        return 77

    root = os.path.abspath(args.root)
    code = Code(root)
    overlays = sorted(os.path.dirname(p) for p in
                      glob.glob(os.path.join(root, "deploy/overlays/*/kustomization.yaml")))
    v = Violations()
    if not overlays:
        v.add("deploy/overlays", "no overlay with a kustomization.yaml")
    for overlay in overlays:
        docs, error = render(args.kubectl, overlay)
        name = os.path.basename(overlay)
        if docs is None:
            v.add(f"[{name}]", f"kubectl kustomize failed: {error}")
            continue
        r = Rendered(name, docs)
        check_containers(r, v)
        workloads, envs = check_services(r, code, v)
        check_peers(r, code, workloads, envs, v)
        check_scaling(r, code, workloads, v)
        check_topics(r, code, workloads, envs, v)
        check_network(r, code, workloads, envs, v)
        check_images(root, r, workloads, v)

    if v.lines:
        for line in v.lines:
            print(line)
        print(f"check_manifests: {len(v.lines)} violation(s)")
        return 1
    names = ", ".join(map(os.path.basename, overlays))
    print(f"check_manifests: {len(overlays)} overlays ({names}) "
          f"agree with the code: services {', '.join(code.services)}; "
          f"{len(code.topics)} topics; variables exempted: {', '.join(sorted(UNSET_ON_PURPOSE))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
