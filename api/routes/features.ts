import type { FastifyInstance } from 'fastify';
import { FEATURE_VIEWS, type FeatureView, tenantOfEntity } from '../../schemas/index.js';
import type { FeatureLookup, FeatureReader, StoredFeatures } from '../../sinks/index.js';
import { canRead, apiKeySecurity as security } from '../auth.js';
import { apiErrors, errorResponses } from '../errors.js';

export interface FeatureRoutesOptions {
  readonly features: FeatureReader;
}

/** Most entities one batch request may ask for; views × entities stays ≤ 300 reads. */
export const MAX_BATCH_ENTITIES = 100;

const entitySchema = {
  type: 'string',
  minLength: 1,
  maxLength: 512,
  description:
    "The tenant first: 'acme/u1' (user_activity), 'acme/GET /v1/orders/:id' (endpoint_health), 'acme' (tenant_usage)",
} as const;

const viewSchema = { type: 'string', enum: [...FEATURE_VIEWS] } as const;

const featuresSchema = {
  $id: 'Features',
  type: 'object',
  properties: {
    view: viewSchema,
    entity: { type: 'string' },
    values: { type: 'object', additionalProperties: { type: 'number' }, description: 'feature name → value' },
    event_time: { type: 'number', description: 'epoch ms the values are as of' },
    age_ms: { type: 'number', description: 'now minus event_time' },
  },
  required: ['view', 'entity', 'values', 'event_time', 'age_ms'],
} as const;

interface FeaturesBody {
  readonly view: FeatureView;
  readonly entity: string;
  readonly values: Readonly<Record<string, number>>;
  readonly event_time: number;
  readonly age_ms: number;
}

function toBody(found: StoredFeatures): FeaturesBody {
  return {
    view: found.view,
    entity: found.entity,
    values: found.values,
    event_time: found.eventTime,
    age_ms: found.ageMs,
  };
}

/**
 * `GET /:view/:entity` and `POST /batch` over the feature store. A caller
 * sees only its tenant's entities: another tenant's entity is answered as
 * not found (404, or `found: false` in a batch) without reading it.
 */
export async function featureRoutes(server: FastifyInstance, options: FeatureRoutesOptions): Promise<void> {
  const { features } = options;
  server.addSchema(featuresSchema);

  server.get<{ Params: { view: FeatureView; entity: string } }>(
    '/:view/:entity',
    {
      schema: {
        summary: 'The features of one entity in one view',
        description: "URL-encode the entity: 'acme/u1' is 'acme%2Fu1'.",
        tags: ['features'],
        security,
        params: {
          type: 'object',
          properties: { view: viewSchema, entity: entitySchema },
          required: ['view', 'entity'],
        },
        response: {
          200: { description: 'the values as of event_time', allOf: [{ $ref: 'Features#' }] },
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { view, entity } = request.params;
      if (!canRead(request.tenantScope, tenantOfEntity(entity)))
        throw apiErrors.featuresNotFound(view, entity);
      const found = await features.get(view, entity);
      if (found === null) throw apiErrors.featuresNotFound(view, entity);
      return toBody(found);
    },
  );

  server.post<{ Body: { views: FeatureView[]; entities: string[] } }>(
    '/batch',
    {
      bodyLimit: 128 * 1024,
      schema: {
        summary: 'Several views of several entities, in one read',
        description:
          'Answers one result per (entity, view), entities in the order given, views in the order given within each; ' +
          'entities without features, or of another tenant, come back with found: false.',
        tags: ['features'],
        security,
        body: {
          type: 'object',
          properties: {
            views: {
              type: 'array',
              items: viewSchema,
              minItems: 1,
              maxItems: FEATURE_VIEWS.length,
              uniqueItems: true,
            },
            entities: {
              type: 'array',
              items: entitySchema,
              minItems: 1,
              maxItems: MAX_BATCH_ENTITIES,
              uniqueItems: true,
            },
          },
          required: ['views', 'entities'],
          additionalProperties: false,
        },
        response: {
          200: {
            description: 'one result per (entity, view)',
            type: 'object',
            properties: {
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { ...featuresSchema.properties, found: { type: 'boolean' } },
                  required: ['view', 'entity', 'found'],
                },
              },
            },
            required: ['results'],
          },
          ...errorResponses(400, 401, 413, 503),
        },
      },
    },
    async (request) => {
      const { views, entities } = request.body;
      const asked: FeatureLookup[] = entities.flatMap((entity) => views.map((view) => ({ view, entity })));
      const readable = asked.filter(({ entity }) => canRead(request.tenantScope, tenantOfEntity(entity)));
      const found = await features.getMany(readable);
      const byLookup = new Map(readable.map((lookup, i) => [lookup, found[i] ?? null]));
      return {
        results: asked.map((lookup) => {
          const hit = byLookup.get(lookup);
          return hit
            ? { ...toBody(hit), found: true }
            : { view: lookup.view, entity: lookup.entity, found: false };
        }),
      };
    },
  );
}
