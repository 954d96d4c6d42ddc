// The admin console's Moderation section: delete a chat message by room and id, and revoke
// every chat token a user holds now.
import { $, alertIn, facts, onSubmit, when, whileBusy } from "./admin-view.js";

export function moderationSection(api) {
  const remove = $("message-delete");
  const removeError = $("message-delete-error");
  const removed = $("message-delete-result");
  onSubmit(remove, () =>
    whileBusy(remove, removeError, async () => {
      removed.replaceChildren();
      const room = encodeURIComponent($("message-room").value.trim());
      const id = encodeURIComponent($("message-id").value.trim());
      const answer = await api.request("DELETE", `rooms/${room}/messages/${id}`);
      if (!answer.ok) return alertIn(removeError, answer.message);
      const m = answer.body;
      removed.replaceChildren(
        facts([
          ["Deleted", `${m.room}/${m.message_id}`],
          ["Sender", m.sender_sub],
          ["Sent", when(m.sent_at)],
          ["Was in recent history", m.in_recent_history ? "yes" : "no"],
        ]),
      );
    }),
  );

  const revoke = $("user-revoke");
  const revokeError = $("user-revoke-error");
  const revoked = $("user-revoke-result");
  onSubmit(revoke, () =>
    whileBusy(revoke, revokeError, async () => {
      revoked.replaceChildren();
      const user = encodeURIComponent($("revoke-user").value.trim());
      const answer = await api.request("POST", `users/${user}/revoke`);
      if (!answer.ok) return alertIn(revokeError, answer.message);
      const r = answer.body;
      revoked.replaceChildren(
        facts([
          ["User", r.user],
          ["Tokens refused if issued before", when(r.revoked_at)],
          ["Previously revoked", when(r.previously_revoked_at)],
        ]),
      );
    }),
  );
}
