"""The Helm chart, linted and rendered by Helm's own Go library (helm-python-sdk, which
carries it; no cluster is contacted and nothing is downloaded): probes on /healthz and
/readyz, every secret the bot reads taken from a Kubernetes Secret, the config as a
ConfigMap the bot accepts, a locked-down pod, Redis for more than one replica."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from bot.config_file import load_settings
from tests.deploy.variables import variables_the_bot_reads
from tests.support.paths import ROOT

CHART = ROOT / "deploy" / "helm" / "sspr-bot"
TEST_VALUES = yaml.safe_load((CHART / "ci" / "test-values.yaml").read_text(encoding="utf-8"))
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - the address the pod's command serves on
WARNING = 2  # helm lint's severities: 1 info, 2 warning, 3 error

Manifest = dict[str, Any]


def rendered(values: dict[str, Any]) -> dict[tuple[str, str], Manifest]:
    """`helm template sspr` with `values`: each object by (kind, name)."""
    with helm.Chart.load(CHART) as chart:
        files = chart.render(values, name="sspr", namespace="identity")
    objects: dict[tuple[str, str], Manifest] = {}
    for path, text in files.items():
        if path.endswith(".txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects[(document["kind"], document["metadata"]["name"])] = document
    return objects


def with_values(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(yaml.safe_dump(TEST_VALUES))
    values.update(changes)
    return values


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], Manifest]:
    return rendered(TEST_VALUES)


@pytest.fixture(scope="module")
def pod(objects: dict[tuple[str, str], Manifest]) -> Manifest:
    spec: Manifest = objects[("Deployment", "sspr-sspr-bot")]["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def bot(pod: Manifest) -> Manifest:
    container: Manifest = pod["containers"][0]
    return container


def test_helm_lint_finds_no_warning_or_error() -> None:
    report = helm.lint(CHART, TEST_VALUES, strict=True)
    assert report["errors"] == []
    problems = [each for each in report["messages"] if each["severity"] >= WARNING]
    assert problems == []


def test_the_release_holds_the_bot_its_config_secret_service_ingress_budget_and_redis(
    objects: dict[tuple[str, str], Manifest],
) -> None:
    assert set(objects) == {
        ("ConfigMap", "sspr-sspr-bot"),
        ("Secret", "sspr-sspr-bot"),
        ("ServiceAccount", "sspr-sspr-bot"),
        ("Deployment", "sspr-sspr-bot"),
        ("Service", "sspr-sspr-bot"),
        ("Ingress", "sspr-sspr-bot"),
        ("PodDisruptionBudget", "sspr-sspr-bot"),
        ("Service", "sspr-sspr-bot-redis"),
        ("StatefulSet", "sspr-sspr-bot-redis"),
    }


def test_liveness_is_healthz_and_readiness_is_readyz_on_the_served_port(bot: Manifest) -> None:
    assert bot["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert bot["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert bot["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert bot["ports"] == [{"name": "http", "containerPort": 3978, "protocol": "TCP"}]
    assert bot["args"] == [
        "serve",
        "--config",
        "/etc/sspr-bot/sspr.yaml",
        "--host",
        ALL_ADDRESSES,
        "--port",
        "3978",
    ]


def test_every_variable_the_bot_reads_comes_from_the_secret_when_it_has_the_key(
    bot: Manifest,
) -> None:
    environment = {each["name"]: each for each in bot["env"]}
    assert set(environment) == variables_the_bot_reads()
    for name, each in environment.items():
        assert each["valueFrom"]["secretKeyRef"] == {
            "name": "sspr-sspr-bot",
            "key": name,
            "optional": True,
        }


def test_an_existing_secret_is_used_and_none_is_made() -> None:
    objects = rendered(with_values(secrets={"existingSecret": "sspr-secrets", "keys": ["A"]}))
    assert ("Secret", "sspr-sspr-bot") not in objects
    container = objects[("Deployment", "sspr-sspr-bot")]["spec"]["template"]["spec"]
    references = [
        each["valueFrom"]["secretKeyRef"]["name"] for each in container["containers"][0]["env"]
    ]
    assert references == ["sspr-secrets"]


def test_the_config_map_is_a_config_the_bot_accepts_pointed_at_the_release_redis(
    objects: dict[tuple[str, str], Manifest], tmp_path: Path
) -> None:
    config = tmp_path / "sspr.yaml"
    config.write_text(objects[("ConfigMap", "sspr-sspr-bot")]["data"]["sspr.yaml"])
    settings = load_settings(config)
    assert settings.state.backend == "redis"
    assert settings.state.url == "redis://sspr-sspr-bot-redis:6379/0"
    assert settings.server.public_url == "https://sspr.contoso.com"
    assert settings.data_dir == "sspr-data"  # relative: inside the data volume


def test_the_config_and_data_are_mounted_where_the_image_expects_them(pod: Manifest) -> None:
    mounts = {each["name"]: each for each in pod["containers"][0]["volumeMounts"]}
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/sspr-bot", "readOnly": True}
    assert mounts["data"] == {"name": "data", "mountPath": "/var/lib/sspr-bot"}
    volumes = {each["name"]: each for each in pod["volumes"]}
    assert volumes["config"]["configMap"] == {"name": "sspr-sspr-bot"}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_the_pod_runs_non_root_on_a_read_only_root_without_capabilities(pod: Manifest) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]["memory"]


def test_the_redis_keeps_an_append_only_file_with_the_bots_password(
    objects: dict[tuple[str, str], Manifest],
) -> None:
    redis = objects[("StatefulSet", "sspr-sspr-bot-redis")]["spec"]
    container = redis["template"]["spec"]["containers"][0]
    assert "--appendonly yes" in container["command"][-1]
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["key"] == "SSPR_REDIS_PASSWORD"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    service = objects[("Service", "sspr-sspr-bot-redis")]["spec"]
    assert service["selector"] == redis["template"]["metadata"]["labels"]


def test_the_bot_service_and_budget_select_the_bot_pods_only(
    objects: dict[tuple[str, str], Manifest],
) -> None:
    labels = objects[("Deployment", "sspr-sspr-bot")]["spec"]["template"]["metadata"]["labels"]
    redis = objects[("StatefulSet", "sspr-sspr-bot-redis")]["spec"]["template"]["metadata"]
    service = objects[("Service", "sspr-sspr-bot")]["spec"]
    budget = objects[("PodDisruptionBudget", "sspr-sspr-bot")]["spec"]
    assert service["selector"] == budget["selector"]["matchLabels"] == labels
    assert service["selector"] != redis["labels"]
    assert budget["minAvailable"] == 1


def test_the_ingress_sends_its_host_to_the_service_over_tls(
    objects: dict[tuple[str, str], Manifest],
) -> None:
    ingress = objects[("Ingress", "sspr-sspr-bot")]["spec"]
    assert ingress["tls"] == [{"hosts": ["sspr.contoso.com"], "secretName": "sspr-contoso-tls"}]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "sspr-sspr-bot", "port": {"name": "http"}}}


def test_one_replica_on_its_own_sqlite_has_no_budget_and_no_redis() -> None:
    config = {"server": {"public_url": "https://sspr.contoso.com"}, "state": {"backend": "sqlite"}}
    objects = rendered(with_values(replicaCount=1, config=config, redis={"enabled": False}))
    assert ("PodDisruptionBudget", "sspr-sspr-bot") not in objects
    assert ("StatefulSet", "sspr-sspr-bot-redis") not in objects


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"config": {"server": {"public_url": ""}}}, "config.server.public_url is required"),
        (
            {
                "redis": {"enabled": False},
                "config": {
                    "server": {"public_url": "https://x"},
                    "state": {"backend": "sqlite"},
                    "directory": {"kind": "graph"},
                },
            },
            "replicaCount > 1 needs config.state.backend redis",
        ),
        (
            {"config": {"server": {"public_url": "https://x"}, "directory": {"kind": "embedded"}}},
            "replicaCount > 1 needs config.directory.kind graph or ldap",
        ),
        ({"ingress": {"enabled": True, "host": ""}}, "ingress.host is required"),
    ],
)
def test_a_deployment_that_cannot_work_is_refused_with_its_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(helm.HelmError, match=re.escape(reason)):
        rendered(with_values(**changes))


def _referenced_values() -> Iterator[tuple[str, str]]:
    for template in (CHART / "templates").iterdir():
        for path in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()):
            yield template.name, path


def test_every_value_a_template_uses_is_in_values_yaml() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    for template, path in _referenced_values():
        node: Any = defaults
        for key in path.split("."):
            assert isinstance(node, dict), f"{template}: .Values.{path}"
            assert key in node, f"{template}: .Values.{path}"
            node = node[key]
