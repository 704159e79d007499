# descentd and the descent CLI on Debian 12.
#
#   docker build -t descent .
#   docker run -d -p 50051:50051 -p 9464:9464 -v descent-data:/var/lib/descent descent --workers=2
#   docker run --rm --network host --entrypoint descent descent health
#
# The build stage installs the toolchain through deploy/install-deps.sh (the project's one package
# list), builds only the two binaries and the unit test executables, and runs the unit tests: an
# image is only produced from a tree whose unit tests pass (UNIT_TEST_LABELS below). The full
# suite (integration, sanitizers) runs in CI outside the image. The runtime stage carries the two
# stripped binaries, the example job specs and the shared libraries they link, nothing else.

ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
# Parallel compile jobs; the machines this is built on are small and shared.
ARG JOBS=2
# The unit tests built and run inside the build, as a ctest label regex of alternatives (one label
# and one <label>_tests executable per tests/<module>). Empty builds the two binaries alone: for a
# caller that has just run the whole suite on the same tree with the same packages (CI does).
ARG UNIT_TEST_LABELS="base|engine|server|client"
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
RUN /src/deploy/install-deps.sh build && rm -rf /var/lib/apt/lists/*
# Marks the layers below (compiled trees, large) so deploy/smoke-test.sh can prune stale ones;
# the toolchain layer above stays cached.
LABEL dev.descent.image=build
WORKDIR /src
COPY . .
# The project's default build type, so the image's binaries are compiled as CI tests them.
RUN test_targets=$(printf '%s' "${UNIT_TEST_LABELS}" | tr '|' '\n' | sed 's/$/_tests/'); \
    cmake -S . -B /build -G Ninja -DDESCENT_BUILD_BENCH=OFF \
 && cmake --build /build -j "${JOBS}" --target descentd descent ${test_targets}
# Once, with no more tests at a time than the builder has cores (the suite's timing-sensitive
# tests are proven under oversubscription in CI, not here). A failure prints, last, which
# tests failed and their whole output, so the end of the build log says why.
RUN if [ -z "${UNIT_TEST_LABELS}" ]; then echo "unit tests: none asked for (UNIT_TEST_LABELS is empty)"; \
    else tests=$(nproc); [ "${tests}" -le "${JOBS}" ] || tests=${JOBS}; \
      ctest --test-dir /build -L "${UNIT_TEST_LABELS}" -j "${tests}" --output-on-failure --timeout 300 \
      || { scripts/ctest-failures.sh /build; exit 1; }; fi
RUN mkdir -p /out \
 && strip --strip-unneeded -o /out/descentd /build/server/descentd \
 && strip --strip-unneeded -o /out/descent /build/client/descent

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title=descent \
      org.opencontainers.image.description="descentd training service and the descent CLI" \
      dev.descent.image=runtime
COPY deploy/install-deps.sh /tmp/install-deps.sh
# As the official slim images do: no manuals, translations or docs other than copyright notices
# from the packages installed here (the base may have been built without that setting).
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' >/etc/dpkg/dpkg.cfg.d/descent-slim \
 && /tmp/install-deps.sh runtime \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/install-deps.sh \
 && groupadd --system --gid 10001 descent \
 && useradd --system --uid 10001 --gid descent --home-dir /var/lib/descent --no-create-home \
            --shell /usr/sbin/nologin descent \
 && install -d -o descent -g descent -m 0750 /var/lib/descent
COPY --from=build /out/descentd /out/descent /usr/local/bin/
COPY examples/ /usr/share/descent/examples/
USER descent:descent
WORKDIR /var/lib/descent
# gRPC (TrainingService, health, reflection) and Prometheus /metrics.
EXPOSE 50051 9464
# Job store and artefacts; survives container replacement when a named volume is mounted here.
VOLUME /var/lib/descent
# The standard gRPC health service, asked through the CLI (exit 0 = SERVING, 1 = not serving,
# 3 = unreachable).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["descent", "--server", "127.0.0.1:50051", "--timeout", "3", "health"]
# descentd handles SIGTERM itself (stops accepting, settles jobs, exits 0), so it can be PID 1.
ENTRYPOINT ["descentd", "--data-dir=/var/lib/descent"]
CMD []
