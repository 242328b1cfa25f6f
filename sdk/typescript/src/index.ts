export * from "./types.js";
export { AgentClient, AgentApiError } from "./agent.js";
export type { AgentClientOptions, UpdatesOptions, UpdatesSubscription, SubscriptionState, StateInfo } from "./agent.js";
export { TaskClient, TaskProtocolError } from "./task.js";
export type { TaskClientOptions, SubmitResult } from "./task.js";
