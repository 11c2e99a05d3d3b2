/**
 * The search analogue (multi-hop questions over knowledge split between agents): the planner
 * knows where people live and work, the critic knows where companies are based and which city is
 * in which country. `which country is the employer of ali in ?` needs the planner's hop
 * (ali works for data) and then the critic's two hops (data is based in path ; path is in world).
 * Chain-shaped, so only the sequential pattern has role texts. A composition is (question type,
 * person); each has exactly one question, and the test split holds compositions train never saw.
 */

import type { TaskFamily, TaskInstance } from './family.ts';
import type { KnowledgeRecord } from './format.ts';
import type { World } from './world.ts';

/** The question types: which hops they chain. */
export const SEARCH_TYPES = ['home-country', 'employer-city', 'employer-country'] as const;
type SearchType = (typeof SEARCH_TYPES)[number];

export const search: TaskFamily = {
  name: 'search',
  oneInstancePerComposition: true,

  compositions(world: World): string[] {
    return [...world.livesIn.keys()].flatMap((person) =>
      SEARCH_TYPES.map((type) => `${type}:${person}`),
    );
  },

  sample(world: World, composition: string): TaskInstance {
    const [type, person] = composition.split(':') as [SearchType, string];
    const home = world.livesIn.get(person)!;
    const employer = world.worksFor.get(person)!;
    const office = world.basedIn.get(employer)!;
    let question: string;
    let planner: string;
    let critic: string;
    let answer: string;
    if (type === 'home-country') {
      answer = world.cityCountry.get(home)!;
      question = `which country does ${person} live in ?`;
      planner = `${person} lives in ${home}`;
      critic = `${home} is in ${answer}`;
    } else if (type === 'employer-city') {
      answer = office;
      question = `which city is the employer of ${person} in ?`;
      planner = `${person} works for ${employer}`;
      critic = `${employer} is based in ${office}`;
    } else {
      answer = world.cityCountry.get(office)!;
      question = `which country is the employer of ${person} in ?`;
      planner = `${person} works for ${employer}`;
      critic = `${employer} is based in ${office} ; ${office} is in ${answer}`;
    }
    return {
      question,
      answer,
      composition,
      roles: { sequential: { planner, critic, solver: answer } },
    };
  },

  knowledge(world: World): KnowledgeRecord[] {
    return [
      ...[...world.livesIn.keys()].map((p) => ({
        agent: 'planner',
        prompt: `recall ${p}`,
        target: `${p} lives in ${world.livesIn.get(p)} ; ${p} works for ${world.worksFor.get(p)}`,
      })),
      ...[...world.basedIn].map(([company, city]) => ({
        agent: 'critic',
        prompt: `recall ${company}`,
        target: `${company} is based in ${city}`,
      })),
      ...[...world.cityCountry].map(([city, country]) => ({
        agent: 'critic',
        prompt: `recall ${city}`,
        target: `${city} is in ${country}`,
      })),
    ];
  },
};
