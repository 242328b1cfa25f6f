// useExternalTask.js - React hook for external task integration.
//
// EXAMPLE ONLY: not served by browser-control and not part of its API; copy it into your app.
// It needs external-task-client.js loaded first (it uses window.ExternalTaskClient), e.g.
//   <script src="http://BROWSER_CONTROL_HOST:PORT/external-task-client.js"></script>
//
// Command handlers passed as `commands` are registered before connect(), so a command that
// arrives right after connection is never missed. The set of command names is read once, at
// mount; the handlers themselves may change between renders (the latest one is called).

import { useEffect, useRef, useState, useCallback } from 'react';

export function useExternalTask(options = {}) {
  const { commands, taskToken, wsUrl } = options;
  const clientRef = useRef(null);
  const commandsRef = useRef(commands);
  commandsRef.current = commands;
  const [config, setConfig] = useState(null);
  const [isConnected, setIsConnected] = useState(false);

  useEffect(() => {
    const client = new window.ExternalTaskClient();
    clientRef.current = client;

    client.onInit = (cfg) => {
      setConfig(cfg);
      setIsConnected(true);
    };
    client.onConnectionChange = (connected) => {
      if (!connected) setIsConnected(false); // true again on the next init
    };

    // Register the handlers given up front before connecting.
    Object.keys(commandsRef.current || {}).forEach((name) => {
      client.onCommand(name, (data) => {
        const handler = commandsRef.current?.[name];
        if (typeof handler !== 'function') {
          throw new Error(`no handler for command ${name}`); // acknowledged with success: false
        }
        return handler(data); // a returned Promise is acknowledged once it settles
      });
    });

    client.connect({ taskToken, wsUrl });

    return () => {
      client.onInit = null;
      client.onConnectionChange = null;
      client.disconnect();
      clientRef.current = null;
    };
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const logEvent = useCallback((type, data) => {
    clientRef.current?.logEvent(type, data);
  }, []);

  const reportProgress = useCallback((progress, step) => {
    clientRef.current?.reportProgress(progress, step);
  }, []);

  const complete = useCallback((data) => {
    clientRef.current?.complete(data);
  }, []);

  const onCommand = useCallback((command, handler) => {
    clientRef.current?.onCommand(command, handler);
  }, []);

  return { config, isConnected, logEvent, reportProgress, complete, onCommand };
}

// Usage in component:
// const { config, isConnected, logEvent, complete, onCommand } = useExternalTask({
//   commands: { restart: () => resetTask(), close: () => cleanup(), pause, resume },
// });
