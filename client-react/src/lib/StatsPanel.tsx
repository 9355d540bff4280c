// StatsPanel.tsx - the numbers beside the video: the latest frame's latency split (encode,
// uplink, server stages, downlink), what the client measures, the server's own `stats`, what the
// adaptation changed, and the connection.

import type { AdaptState } from './adapt';
import type { FramewireSnapshot } from './client';
import { fmtFps, fmtMs, fmtUsAsMs } from './format';

export interface StatsPanelProps {
  fw: FramewireSnapshot;
  adapt: AdaptState;
}

function Row({ name, value, testId, title }: { name: string; value: string; testId?: string; title?: string }) {
  return (
    <tr title={title}>
      <th scope="row">{name}</th>
      <td data-testid={testId}>{value}</td>
    </tr>
  );
}

export function StatsPanel({ fw, adapt }: StatsPanelProps) {
  const lat = fw.result?.latency;
  const st = fw.serverStats;
  const m = fw.measures;
  const noSync = fw.clockSupported ? 'n/a (syncing clocks)' : 'n/a (server has no clock sync)';
  return (
    <div className="fw-panel" data-testid="fw-panel">
      <section>
        <h3>Latency of the last frame</h3>
        <table>
          <tbody>
            <Row name="encode (client)" value={fmtMs(lat?.encodeMs)} testId="fw-lat-encode" />
            <Row name="uplink" value={lat?.uplinkMs == null ? (lat ? noSync : 'n/a') : fmtMs(lat.uplinkMs)} testId="fw-lat-uplink" />
            <Row name="server" value={fmtMs(lat?.serverMs)} testId="fw-lat-server" />
            <Row
              name="  queue / decode / prep"
              value={lat ? `${fmtMs(lat.stages.queue)} / ${fmtMs(lat.stages.decode)} / ${fmtMs(lat.stages.preprocess)}` : 'n/a'}
              testId="fw-lat-stages"
            />
            <Row name="  wait / infer" value={lat ? `${fmtMs(lat.stages.wait)} / ${fmtMs(lat.stages.infer)} (batch ${fw.result!.batch})` : 'n/a'} />
            <Row name="downlink" value={lat?.downlinkMs == null ? (lat ? noSync : 'n/a') : fmtMs(lat.downlinkMs)} testId="fw-lat-downlink" />
            <Row name="total" value={fmtMs(lat?.totalMs)} testId="fw-lat-total" />
          </tbody>
        </table>
      </section>
      <section>
        <h3>Client</h3>
        <table>
          <tbody>
            <Row name="sent" value={`${fmtFps(m.sentFps)} fps`} testId="fw-client-sent-fps" />
            <Row name="results" value={`${fmtFps(m.resultFps)} fps`} testId="fw-client-fps" />
            <Row name="latency p50 / p99" value={`${fmtMs(m.latencyP50Ms)} / ${fmtMs(m.latencyP99Ms)}`} testId="fw-client-latency" />
            <Row name="in flight" value={`${fw.inflight} / ${fw.maxInflight}`} testId="fw-inflight" />
            <Row name="answers" value={`${fw.counts.results} results, ${fw.counts.errors} errors, ${fw.counts.dropped} dropped`} testId="fw-client-counts" />
          </tbody>
        </table>
      </section>
      <section>
        <h3>Server</h3>
        <table>
          <tbody>
            <Row name="fps in / out" value={st ? `${fmtFps(st.fps_in)} / ${fmtFps(st.fps_out)}` : 'n/a'} testId="fw-server-fps" />
            <Row name="p50 / p99" value={st ? `${fmtUsAsMs(st.server_p50_us)} / ${fmtUsAsMs(st.server_p99_us)}` : 'n/a'} testId="fw-server-latency" />
            <Row
              name="drops"
              value={st ? `${st.dropped_superseded} superseded, ${st.dropped_stale} stale, ${st.errors} errors` : 'n/a'}
              testId="fw-server-drops"
            />
          </tbody>
        </table>
      </section>
      <section>
        <h3>
          Adaptation{' '}
          {adapt.adapted ? (
            <span className="fw-badge fw-badge-warn" data-testid="fw-adapted">
              adapted
            </span>
          ) : (
            <span className="fw-badge" data-testid="fw-adapted-none">
              full settings
            </span>
          )}
        </h3>
        <table>
          <tbody>
            <Row name="frame rate" value={`${adapt.fps} fps`} testId="fw-adapt-fps" />
            <Row name="JPEG quality" value={adapt.quality.toFixed(2)} testId="fw-adapt-quality" />
            <Row name="resolution" value={`${Math.round(adapt.scale * 100)}%`} testId="fw-adapt-scale" />
          </tbody>
        </table>
        <p className="fw-reason" data-testid="fw-adapt-reason">
          {adapt.reason || 'no change yet'}
        </p>
      </section>
      <section>
        <h3>Connection</h3>
        <p data-testid="fw-connection" data-state={fw.state}>
          {connectionText(fw)}
        </p>
        {fw.lastError && (
          <p className="fw-error" data-testid="fw-last-error">
            {fw.lastError.code}: {fw.lastError.message}
          </p>
        )}
      </section>
    </div>
  );
}

export function connectionText(fw: FramewireSnapshot): string {
  switch (fw.state) {
    case 'idle':
      return 'not connected';
    case 'connecting':
      return fw.attempt ? `connecting (attempt ${fw.attempt + 1})…` : 'connecting…';
    case 'ready': {
      const h = fw.hello!;
      return `connected: ${h.model.name} (${h.model.labels} classes, ${h.model.device}) on ${h.server}, session ${h.session}`;
    }
    case 'reconnecting': {
      const why = fw.lastClose ? ` (closed ${fw.lastClose.code}${fw.lastClose.reason ? `: ${fw.lastClose.reason}` : ''})` : '';
      return `disconnected${why}; retrying in ${((fw.retryInMs ?? 0) / 1000).toFixed(1)} s`;
    }
    case 'closed':
      return 'closed';
  }
}
