// The player's channel to the server: a tiny component inside a small st.fragment.
//
// The player (player.js) dispatches "arp:report" window events on every draw, and keeps
// the address bar itself. This component forwards only requests (a higher seq) as its
// state, so only the fragment reruns, and only then: parts the player asked for (windows
// of a long text, another unit's details) or a file made at the cursor come back as this
// component's data, handed to the player as "arp:data". A step costs the server nothing.

const CHANNELS = (window.__arpChannels = window.__arpChannels || {});

function playerKey(u8) {
  // data: "ARP1" | u32 n | JSON header (meta.player) | ... (autoreg/seq/payload.py)
  const n = new DataView(u8.buffer, u8.byteOffset, 8).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + n)));
  return [header.meta.player, Object.keys(header.arrays).length > 0, header.meta.answer || 0];
}

export default function (component) {
  const { data, setStateValue } = component;
  if (!data) return undefined;
  const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
  const [key, hasParts, answer] = playerKey(u8);
  let ch = CHANNELS[key];
  if (!ch) {
    ch = CHANNELS[key] = { sent: "", seq: 0, answered: 0 };
    window.addEventListener("arp:report", (e) => {
      const r = e.detail;
      if (r.player !== key) return;
      const send = () => {
        const state = { id: r.id, cursor: r.cursor, need: r.need, seq: r.seq };
        const text = JSON.stringify(state);
        if (text === ch.sent) return;
        ch.sent = text;
        ch.seq = r.seq;
        ch.setState("report", state);
      };
      if (r.seq > ch.seq) send(); // a request: at once; a cursor that only moved is not sent
    });
  }
  ch.setState = setStateValue;
  if (hasParts && answer > ch.answered) {
    ch.answered = answer;
    window.dispatchEvent(new CustomEvent("arp:data", { detail: { player: key, blob: u8 } }));
  }
  return undefined;
}
