// fastify loads its JSON-schema compilers (ajv and fast-json-stringify) whenever a server is created,
// about 70 ms of a process's start on an idle machine, and more on a busy one, where a node restarting
// takes that CPU from the nodes serving (`bench failover`). No route of ours declares a schema, so the
// compilers are loaded the first time one would be needed, from fastify's own dependencies.

import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;

const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

let validatorFactory: ValidatorFactory | undefined;
let serializerFactory: SerializerFactory | undefined;

/** fastify's default schema compilers, loaded on first use. */
export const lazySchemaController: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator: (externalSchemas, options) => {
      validatorFactory ??= (requireFromFastify('@fastify/ajv-compiler') as () => ValidatorFactory)();
      return validatorFactory(externalSchemas, options);
    },
    buildSerializer: (externalSchemas, options) => {
      serializerFactory ??= (requireFromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)();
      return serializerFactory(externalSchemas, options);
    },
  },
};
